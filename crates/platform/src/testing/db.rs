//! A fresh schema and login role per test.

use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::db::{self, DbSettings, ServiceDb};

/// Administrator URL used when `CERTITUDE_TEST_DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Returns the administrator URL of the test Postgres: `CERTITUDE_TEST_DATABASE_URL`, or
/// [`DEFAULT_DATABASE_URL`].
pub fn admin_database_url() -> String {
    std::env::var("CERTITUDE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// A schema and role named `certitude_test_<random>`, provisioned as a service's, with a pool
/// connected as that role.
///
/// The role logs in without a password, so the test server must trust local connections.
/// [`TestDb::drop_now`] removes the schema and role, and dropping the value tries the same.
#[derive(Debug)]
pub struct TestDb {
    /// Pool connected as the administrator.
    pub admin: PgPool,
    /// Pool connected as the service role, working in its schema.
    pub pool: PgPool,
    /// Settings of `pool`, to open more pools as the role (another replica, for example).
    pub settings: DbSettings,
    pub service: ServiceDb,
    admin_url: String,
    removed: bool,
}

impl TestDb {
    /// Provisions a fresh schema and role and connects as the role, without migrations.
    pub async fn new() -> Self {
        let admin_url = admin_database_url();
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!("test Postgres at {admin_url} is unreachable ({error}); run `make deps`")
            });
        let service = ServiceDb::named(format!("certitude_test_{}", super::unique_suffix()));
        db::provision(&admin, &service)
            .await
            .expect("provisioning a test schema and role works with an administrator URL");

        let mut settings = DbSettings::new(role_url(&admin_url, &service.role), &service.schema);
        settings.max_connections = 5;
        let pool = db::connect(&settings)
            .await
            .expect("the freshly provisioned role can log in");
        Self {
            admin,
            pool,
            settings,
            service,
            admin_url,
            removed: false,
        }
    }

    /// Provisions a fresh schema and role and applies the platform's migrations and
    /// `service`'s.
    pub async fn migrated(service: &Migrator) -> Self {
        let test_db = Self::new().await;
        db::migrate(&test_db.pool, service)
            .await
            .expect("migrations apply to a fresh schema");
        test_db
    }

    /// Opens another pool as the service role, as a second replica would.
    pub async fn connect_again(&self) -> PgPool {
        db::connect(&self.settings)
            .await
            .expect("the test role can log in again")
    }

    /// Closes the pools and removes the schema and the role.
    pub async fn drop_now(mut self) {
        self.pool.close().await;
        remove(&self.admin, &self.service.role, &self.service.schema).await;
        self.admin.close().await;
        self.removed = true;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let admin_url = self.admin_url.clone();
        let role = self.service.role.clone();
        let schema = self.service.schema.clone();
        super::block_on_elsewhere(async move {
            if let Ok(admin) = PgPoolOptions::new()
                .max_connections(1)
                .connect(&admin_url)
                .await
            {
                remove(&admin, &role, &schema).await;
                admin.close().await;
            }
        });
    }
}

/// Drops the schema with its objects and the role, ending the role's sessions first.
/// Best effort: failures are printed, since a leftover test schema harms no other test.
async fn remove(admin: &PgPool, role: &str, schema: &str) {
    let statements = [
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"),
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        format!("DROP OWNED BY \"{role}\""),
        format!("DROP ROLE IF EXISTS \"{role}\""),
    ];
    for statement in statements {
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(admin)
            .await
        {
            eprintln!("removing test schema {schema} and role {role} failed: {error}");
            return;
        }
    }
}

/// Returns `admin_url` with `role` as the user and no password.
fn role_url(admin_url: &str, role: &str) -> SecretString {
    let mut url = url::Url::parse(admin_url).expect("the test database URL is a valid URL");
    url.set_username(role)
        .and_then(|()| url.set_password(None))
        .expect("the test database URL can carry a user name");
    SecretString::from(url.to_string())
}
