//! Connecting a service to Postgres and NATS, binding its listeners, and its readiness checks.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::config::{CommonConfig, ConnectionUrl, SchemaName};
use crate::db::{self, DbError};
use crate::events::{self, EventsSettings, StreamError};
use crate::health::{NatsCheck, PostgresCheck, Readiness};

/// How long one readiness check of Postgres or NATS may take before `/readyz` reports it failed.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// A start-up step that failed. Messages show URLs with their password replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The pool could not be opened: a bad URL or schema name, or Postgres is unreachable.
    #[error("failed to connect to Postgres at {url} (schema {schema})")]
    Postgres {
        url: ConnectionUrl,
        schema: SchemaName,
        #[source]
        source: DbError,
    },

    /// The platform's or the service's migrations failed.
    #[error("failed to migrate schema {schema}")]
    Migrate {
        schema: SchemaName,
        #[source]
        source: DbError,
    },

    /// The NATS server is unreachable or rejected the connection.
    #[error("failed to connect to NATS at {url}")]
    Nats {
        url: ConnectionUrl,
        #[source]
        source: async_nats::ConnectError,
    },

    /// The event streams could not be created or updated.
    #[error("failed to create or update the event streams")]
    Streams(#[source] StreamError),

    /// A listener address is in use or not available on this host.
    #[error("failed to bind {address} (from {setting}): choose a free address and port")]
    Bind {
        address: SocketAddr,
        /// Environment variable the address came from, such as `CERTITUDE_GRPC_LISTEN`.
        setting: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// The connections a service with events starts with.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Pool of the service role, working in the service's schema.
    pub pool: PgPool,
    /// NATS client, named after the service.
    pub nats: async_nats::Client,
    /// JetStream context of `nats`.
    pub jetstream: jetstream::Context,
    /// Stream names and subject prefix from the config.
    pub events: EventsSettings,
}

impl Backends {
    /// Opens the Postgres pool as [`connect_database`] does (migrating when
    /// `CERTITUDE_RUN_MIGRATIONS` is true), connects to NATS as [`connect_nats`] does, and
    /// creates the main and dead-letter streams, or updates them to the configured settings.
    ///
    /// `name` is the Postgres `application_name` and the NATS connection name.
    ///
    /// # Errors
    /// The [`StartupError`] of the first step that failed.
    pub async fn connect(
        common: &CommonConfig,
        name: &str,
        migrator: &Migrator,
    ) -> Result<Self, StartupError> {
        let pool = connect_database(common, name, migrator).await?;
        let nats = connect_nats(common, name).await?;
        let jetstream = jetstream::new(nats.clone());
        let events = common.events_settings();
        events::ensure_streams(&jetstream, &events)
            .await
            .map_err(StartupError::Streams)?;
        Ok(Self {
            pool,
            nats,
            jetstream,
            events,
        })
    }
}

/// Opens the service's pool with [`CommonConfig::db_settings`] and checks one connection.
/// When `CERTITUDE_RUN_MIGRATIONS` is true it then applies the platform's migrations and
/// `migrator`'s.
///
/// # Errors
/// [`StartupError::Postgres`] or [`StartupError::Migrate`].
pub async fn connect_database(
    common: &CommonConfig,
    application_name: &str,
    migrator: &Migrator,
) -> Result<PgPool, StartupError> {
    let settings = common.db_settings(application_name);
    let pool = db::connect(&settings)
        .await
        .map_err(|source| StartupError::Postgres {
            url: common.database_url.clone(),
            schema: common.db_schema.clone(),
            source,
        })?;
    if common.run_migrations {
        db::migrate(&pool, migrator)
            .await
            .map_err(|source| StartupError::Migrate {
                schema: common.db_schema.clone(),
                source,
            })?;
    }
    Ok(pool)
}

/// Connects to the NATS server(s) of `NATS_URL`, with `name` as the connection name that the
/// server's monitoring shows.
///
/// # Errors
/// [`StartupError::Nats`].
pub async fn connect_nats(
    common: &CommonConfig,
    name: &str,
) -> Result<async_nats::Client, StartupError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connect(server_urls(common.nats_url.expose_secret()))
        .await
        .map_err(|source| StartupError::Nats {
            url: common.nats_url.clone(),
            source,
        })
}

/// Splits `NATS_URL` into its URLs: async-nats parses a single string as one URL, so a list of
/// cluster members must reach it as separate items.
fn server_urls(nats_url: &str) -> Vec<&str> {
    nats_url
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect()
}

/// Binds a TCP listener on `address`; port 0 lets the system pick a free port.
///
/// # Errors
/// [`StartupError::Bind`] naming `setting`, the variable the address came from.
pub async fn bind(address: SocketAddr, setting: &'static str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartupError::Bind {
            address,
            setting,
            source,
        })
}

/// Returns the readiness probe of a service: Postgres runs `SELECT 1` and the NATS client is
/// connected, each within [`READINESS_TIMEOUT`].
pub fn readiness(pool: PgPool, nats: async_nats::Client) -> Readiness {
    Readiness::new(
        vec![
            Box::new(PostgresCheck::new(pool)),
            Box::new(NatsCheck::new(nats)),
        ],
        READINESS_TIMEOUT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_split_cluster_list() {
        let urls = server_urls("nats://a:4222, nats://b:4222,nats://c:4222");

        assert_eq!(urls, ["nats://a:4222", "nats://b:4222", "nats://c:4222"]);
    }

    #[test]
    fn server_urls_keep_single_url() {
        assert_eq!(
            server_urls("nats://127.0.0.1:4222"),
            ["nats://127.0.0.1:4222"]
        );
    }

    #[tokio::test]
    async fn bind_error_names_the_setting() {
        let occupied = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let address = occupied
            .local_addr()
            .expect("a bound listener has an address");

        let error = bind(address, "CERTITUDE_GRPC_LISTEN")
            .await
            .expect_err("the port is in use");

        assert!(matches!(error, StartupError::Bind { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&address.to_string()), "{message}");
        assert!(message.contains("CERTITUDE_GRPC_LISTEN"), "{message}");
    }

    #[tokio::test]
    async fn bind_port_zero_picks_free_port() {
        let address: SocketAddr = "127.0.0.1:0".parse().expect("a valid address");

        let listener = bind(address, "CERTITUDE_HTTP_LISTEN")
            .await
            .expect("port 0 binds");

        let bound = listener
            .local_addr()
            .expect("a bound listener has an address");
        assert_ne!(bound.port(), 0);
    }
}
