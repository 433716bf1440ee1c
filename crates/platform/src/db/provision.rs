//! Creates a service's login role and schema with an administrator connection.

use secrecy::{ExposeSecret, SecretString};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use super::DbError;

/// Key of the transaction-level advisory lock that serializes provisioning within a database.
const PROVISION_LOCK_KEY: i64 = 0x6365_7274_7072_6f76;

/// SQLSTATE of `duplicate_object`, raised by `CREATE ROLE` for an existing role.
const DUPLICATE_OBJECT: &str = "42710";

/// Schema of the database extensions that service migrations use. Every role may use it, and
/// only the administrator creates objects in it.
pub const EXTENSIONS_SCHEMA: &str = "extensions";

/// Extensions created in [`EXTENSIONS_SCHEMA`]: `pg_trgm`, whose trigram index the inventory's
/// certificate search uses. A service role cannot create them itself, because Postgres requires
/// the `CREATE` right on the database even for trusted extensions.
pub const EXTENSIONS: [&str; 1] = ["pg_trgm"];

/// The database identity of one service: its schema and the login role that owns it.
#[derive(Debug, Clone)]
pub struct ServiceDb {
    pub schema: String,
    pub role: String,
    /// Password to set on the role. `None` leaves the role's password as it is, for servers
    /// that authenticate otherwise (trust, certificates, IAM).
    pub password: Option<SecretString>,
}

impl ServiceDb {
    /// Returns a schema and a role both called `name`, without a password.
    pub fn named(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            schema: name.clone(),
            role: name,
            password: None,
        }
    }
}

/// Checks that `name` is a lowercase SQL identifier that needs no quoting: 1 to 63 bytes of
/// `a-z`, `0-9` and `_`, starting with a letter or `_`.
pub fn validate_identifier(kind: &'static str, name: &str) -> Result<(), DbError> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_');
    let rest_well = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_well && rest_well && name.len() <= 63 {
        Ok(())
    } else {
        Err(DbError::InvalidName {
            kind,
            name: name.to_owned(),
        })
    }
}

/// Creates the service's role (with `LOGIN`) and its schema owned by that role when they are
/// missing, sets the password when one is given, and revokes every right of `PUBLIC` on the
/// schema, so no other role can use it. Also creates the [`EXTENSIONS`] that are missing from
/// the database, in [`EXTENSIONS_SCHEMA`]; an extension installed earlier in another schema is
/// left where it is.
///
/// Idempotent. Runs in one transaction under an advisory lock, so processes provisioning the
/// same database at once take turns. The administrator must be a superuser, or have
/// `CREATEROLE` and membership in the service role.
pub async fn provision(admin: &PgPool, service: &ServiceDb) -> Result<(), DbError> {
    validate_identifier("schema", &service.schema)?;
    validate_identifier("role", &service.role)?;

    match provision_once(admin, service).await {
        // Roles belong to the whole cluster while the advisory lock covers one database, so a
        // process provisioning another database may create the role first: retry once, when
        // the role is found.
        Err(error) if is_duplicate_role(&error) => provision_once(admin, service).await,
        result => result,
    }
}

async fn provision_once(admin: &PgPool, service: &ServiceDb) -> Result<(), DbError> {
    let mut tx = admin.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PROVISION_LOCK_KEY)
        .execute(&mut *tx)
        .await?;

    ensure_role(&mut tx, service).await?;
    ensure_schema(&mut tx, &service.schema, &service.role).await?;
    ensure_extensions(&mut tx).await?;

    tx.commit().await?;
    Ok(())
}

async fn ensure_role(conn: &mut PgConnection, service: &ServiceDb) -> Result<(), DbError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&service.role)
            .fetch_one(&mut *conn)
            .await?;
    let verb = if exists { "ALTER" } else { "CREATE" };
    let role = &service.role;
    execute(conn, format!("{verb} ROLE \"{role}\" LOGIN")).await?;

    if let Some(password) = &service.password {
        // Postgres quotes the literal, so no character of the password can end it.
        let statement: String =
            sqlx::query_scalar("SELECT format('ALTER ROLE %I PASSWORD %L', $1, $2)")
                .bind(role)
                .bind(password.expose_secret())
                .fetch_one(&mut *conn)
                .await?;
        execute(conn, statement).await?;
    }
    Ok(())
}

async fn ensure_schema(conn: &mut PgConnection, schema: &str, role: &str) -> Result<(), DbError> {
    execute(
        conn,
        format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\" AUTHORIZATION \"{role}\""),
    )
    .await?;
    execute(
        conn,
        format!("ALTER SCHEMA \"{schema}\" OWNER TO \"{role}\""),
    )
    .await?;
    execute(
        conn,
        format!("REVOKE ALL ON SCHEMA \"{schema}\" FROM PUBLIC"),
    )
    .await
}

async fn ensure_extensions(conn: &mut PgConnection) -> Result<(), DbError> {
    execute(
        conn,
        format!("CREATE SCHEMA IF NOT EXISTS \"{EXTENSIONS_SCHEMA}\""),
    )
    .await?;
    execute(
        conn,
        format!("GRANT USAGE ON SCHEMA \"{EXTENSIONS_SCHEMA}\" TO PUBLIC"),
    )
    .await?;
    for extension in EXTENSIONS {
        execute(
            conn,
            format!(
                "CREATE EXTENSION IF NOT EXISTS \"{extension}\" SCHEMA \"{EXTENSIONS_SCHEMA}\""
            ),
        )
        .await?;
    }
    Ok(())
}

/// Runs one statement built from validated identifiers or quoted by Postgres itself.
async fn execute(conn: &mut PgConnection, statement: String) -> Result<(), DbError> {
    sqlx::query(AssertSqlSafe(statement)).execute(conn).await?;
    Ok(())
}

fn is_duplicate_role(error: &DbError) -> bool {
    let source = match error {
        DbError::Conflict { source, .. } | DbError::Query { source } => source,
        _ => return false,
    };
    match source {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.code().as_deref() == Some(DUPLICATE_OBJECT)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_are_accepted() {
        for name in ["gateway", "order_manager", "_t1", "a"] {
            assert!(validate_identifier("schema", name).is_ok(), "{name}");
        }
    }

    #[test]
    fn identifiers_needing_quotes_are_rejected() {
        let too_long = "a".repeat(64);
        for name in [
            "",
            "Gateway",
            "1abc",
            "a-b",
            "a\"b",
            "a b",
            "ä",
            too_long.as_str(),
        ] {
            assert!(validate_identifier("role", name).is_err(), "{name:?}");
        }
    }
}
