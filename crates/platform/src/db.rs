//! Postgres for a service: one schema and one login role per service, a pool whose connections
//! work in that schema, the migrations, and the error classes the edges map to status codes.
//!
//! Each service (`gateway`, `credential_sync`, `order_manager`, `renewal`, `inventory` by
//! default) owns a schema and a role with rights on that schema only. [`provision`] creates
//! both with an administrator connection. [`connect`] opens a pool as the service role with
//! `search_path` set to its schema, so unqualified names in queries and migrations resolve
//! there. [`migrate`] applies the platform's tables and the service's own migrations.

mod error;
mod migrate;
mod provision;

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use error::DbError;
pub use migrate::{PLATFORM_MIGRATIONS_TABLE, migrate, platform_migrator};
pub use provision::{EXTENSIONS, EXTENSIONS_SCHEMA, ServiceDb, provision, validate_identifier};

/// Connection settings of a service's pool.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// Connection URL (`postgres://role[:password]@host:port/database`). The user in the URL is
    /// the service role. The URL may contain a password, so it is kept secret.
    pub url: SecretString,
    /// The service's schema: the only entry of each connection's `search_path`.
    pub schema: String,
    /// Upper bound of open connections in the pool.
    pub max_connections: u32,
    /// Connections the pool keeps open while idle.
    pub min_connections: u32,
    /// How long a query waits for a free connection before failing with
    /// [`DbError::Unavailable`].
    pub acquire_timeout: Duration,
    /// Server-side limit for one statement, disabled by `Duration::ZERO`. Migrations run
    /// without it.
    pub statement_timeout: Duration,
    /// Reported in `pg_stat_activity.application_name`, for example the service name.
    pub application_name: Option<String>,
}

impl DbSettings {
    /// Creates settings with the defaults: 10 connections at most, none kept idle, a 5-second acquire
    /// timeout and a 30-second statement timeout.
    pub fn new(url: SecretString, schema: impl Into<String>) -> Self {
        Self {
            url,
            schema: schema.into(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            application_name: None,
        }
    }

    /// Builds the connection options: the URL's, plus `search_path`, `statement_timeout` and
    /// the application name sent at connection start, so they hold on every connection.
    pub fn connect_options(&self) -> Result<PgConnectOptions, DbError> {
        validate_identifier("schema", &self.schema)?;
        let options = PgConnectOptions::from_str(self.url.expose_secret())
            .map_err(|source| DbError::InvalidUrl { source })?;

        let timeout_ms = self.statement_timeout.as_millis().to_string();
        let options = options.options([
            ("search_path", self.schema.as_str()),
            ("statement_timeout", timeout_ms.as_str()),
        ]);
        Ok(match &self.application_name {
            Some(name) => options.application_name(name),
            None => options,
        })
    }

    fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .min_connections(self.min_connections)
            .acquire_timeout(self.acquire_timeout)
    }
}

/// Opens a pool as the service role and checks that one connection works.
///
/// Fails with [`DbError::InvalidUrl`] or [`DbError::InvalidName`] for bad settings and
/// [`DbError::Unavailable`] when Postgres cannot be reached.
pub async fn connect(settings: &DbSettings) -> Result<PgPool, DbError> {
    let options = settings.connect_options()?;
    Ok(settings.pool_options().connect_with(options).await?)
}

/// Creates a pool as [`connect`] does, but opens connections only when a query needs one, so a
/// service can start while Postgres is down and report it through readiness.
pub fn connect_lazy(settings: &DbSettings) -> Result<PgPool, DbError> {
    let options = settings.connect_options()?;
    Ok(settings.pool_options().connect_lazy_with(options))
}

/// Returns a client span for a statement of `operation` (such as `INSERT`) on `table`, with
/// the OpenTelemetry database attributes: span name `"{operation} {table}"`,
/// `db.system.name`, `db.operation.name` and `db.collection.name`. Never put a statement's
/// parameters on it: they can hold secrets.
pub fn statement_span(operation: &'static str, table: &'static str) -> tracing::Span {
    tracing::info_span!(
        "db statement",
        otel.name = %format_args!("{operation} {table}"),
        otel.kind = "client",
        db.system.name = "postgresql",
        db.operation.name = operation,
        db.collection.name = table,
    )
}
