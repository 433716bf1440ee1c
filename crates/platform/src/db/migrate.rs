//! Migrations of a service schema: the platform's tables and the service's own.
//!
//! A service schema contains two sets of migrations: the platform's (`outbox`, `outbox_sequences`,
//! `inbox`, from `crates/platform/migrations`) and the service's, embedded with
//! `sqlx::migrate!`. Both sets number their versions independently, so they could collide in
//! one history table. Each set therefore keeps its own history table in the schema: the
//! platform's in [`PLATFORM_MIGRATIONS_TABLE`], the service's in sqlx's default
//! `_sqlx_migrations` (or whatever its migrator names). Neither set needs to know the other's
//! version numbers, and `sqlx migrate info` keeps working for the service's set. The platform's
//! migrations run first, so a service migration may refer to the outbox or inbox tables.
//!
//! Both history tables are unqualified names that `search_path` resolves in the service schema,
//! so every schema has its own history. sqlx holds a session-level advisory lock (one key per
//! database) while it migrates, so two replicas that start at once apply each migration once:
//! the second waits, then finds nothing left to do.

use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection, PgPool};

use super::DbError;

/// History table of the platform's migrations in each service schema.
pub const PLATFORM_MIGRATIONS_TABLE: &str = "_platform_migrations";

static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Returns the platform's migrations, recorded in [`PLATFORM_MIGRATIONS_TABLE`].
pub fn platform_migrator() -> Migrator {
    let mut migrator = Migrator::with_migrations(PLATFORM_MIGRATIONS.iter().cloned().collect());
    migrator.dangerous_set_table_name(PLATFORM_MIGRATIONS_TABLE);
    migrator
}

/// Applies the platform's migrations, then `service`'s, to the schema of `pool`'s
/// `search_path`.
///
/// Runs on a connection of its own without a statement timeout, because a migration or the wait
/// for another replica's migration lock may take longer than a query should. Fails with
/// [`DbError::NoSchema`] when the role cannot use the schema (not provisioned), and with
/// [`DbError::Migrate`] when a migration fails or an applied one was changed.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> Result<(), DbError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut conn)
        .await?;
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut conn)
        .await?;
    let schema = schema.ok_or(DbError::NoSchema)?;

    let result = run_both(&mut conn, &schema, service).await;
    // Closing the session also releases sqlx's advisory lock if a migration failed.
    conn.close().await.ok();
    result
}

async fn run_both(
    conn: &mut PgConnection,
    schema: &str,
    service: &Migrator,
) -> Result<(), DbError> {
    run_one(conn, schema, "platform", &platform_migrator()).await?;
    run_one(conn, schema, "service", service).await
}

async fn run_one(
    conn: &mut PgConnection,
    schema: &str,
    set: &'static str,
    migrator: &Migrator,
) -> Result<(), DbError> {
    migrator
        .run(&mut *conn)
        .await
        .map_err(|source| DbError::Migrate {
            schema: schema.to_owned(),
            set,
            source,
        })
}
