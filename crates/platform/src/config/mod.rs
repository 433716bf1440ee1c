//! Typed configuration from environment variables, shared by every service.
//!
//! Each service declares a `clap::Parser` struct that flattens [`CommonConfig`] and adds its
//! own settings, then calls [`load`] once at startup. `--help` lists every setting with its
//! environment variable. A bad value fails at start with an error that names the variable,
//! and the value itself unless the setting may hold a secret (database and NATS URLs, master
//! keys). Tests call [`load_from_vars`] with their own variables, so they never touch the
//! process environment.
//!
//! ```
//! use certitude_platform::config::{CommonConfig, load_from_vars};
//!
//! #[derive(clap::Parser, Debug)]
//! #[command(name = "inventory")]
//! // Each service names its own schema default.
//! #[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("inventory")))]
//! struct InventoryConfig {
//!     #[command(flatten)]
//!     common: CommonConfig,
//! }
//!
//! let config: InventoryConfig =
//!     load_from_vars([("DATABASE_URL", "postgres://postgres@127.0.0.1/postgres")]).unwrap();
//! assert_eq!(config.common.db_schema.as_str(), "inventory");
//! ```

mod load;
mod values;

use std::net::SocketAddr;

use clap::ArgAction;
use secrecy::SecretString;

use crate::db::DbSettings;
use crate::events::EventsSettings;
use crate::seal::Keyring;
use crate::telemetry::{LogFormat, TelemetrySettings};

pub use load::{ConfigError, load, load_from, load_from_vars};
pub use values::{
    ConnectionUrl, MasterKeyFile, SchemaName, StreamName, SubjectPrefix, ValueError, boolean,
    positive_duration,
};

/// Settings every service shares: Postgres, NATS JetStream, listen addresses, telemetry and
/// the master keys that seal secrets. `Debug` hides passwords and key material.
#[derive(Clone, Debug, clap::Args)]
pub struct CommonConfig {
    /// Postgres connection URL, such as postgres://user:password@127.0.0.1:5432/certitude.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = values::database_url,
        help_heading = "Postgres")]
    pub database_url: ConnectionUrl,

    /// Postgres schema that contains this service's tables; each service has its own default.
    #[arg(long, env = "CERTITUDE_DB_SCHEMA", value_parser = values::schema_name,
        help_heading = "Postgres")]
    pub db_schema: SchemaName,

    /// Maximum number of connections in the service's Postgres pool.
    #[arg(long, env = "CERTITUDE_DB_MAX_CONNECTIONS", default_value = "10",
        value_parser = values::max_connections, help_heading = "Postgres")]
    pub db_max_connections: u32,

    /// Whether the service applies its database migrations on start (true or false).
    #[arg(long, env = "CERTITUDE_RUN_MIGRATIONS", default_value = "true", action = ArgAction::Set,
        value_parser = values::boolean, help_heading = "Postgres")]
    pub run_migrations: bool,

    /// NATS server URL, or several separated by commas.
    #[arg(long, env = "NATS_URL", hide_env_values = true, default_value = "nats://127.0.0.1:4222",
        value_parser = values::nats_url, help_heading = "Events")]
    pub nats_url: ConnectionUrl,

    /// JetStream stream that stores the events.
    #[arg(long, env = "CERTITUDE_EVENT_STREAM", default_value = "CERTS",
        value_parser = values::stream_name, help_heading = "Events")]
    pub event_stream: StreamName,

    /// First token of every event subject, as in <prefix>.v1.order.created.
    #[arg(long, env = "CERTITUDE_SUBJECT_PREFIX", default_value = "certs",
        value_parser = values::subject_prefix, help_heading = "Events")]
    pub subject_prefix: SubjectPrefix,

    /// JetStream stream that stores events whose processing kept failing.
    #[arg(long, env = "CERTITUDE_DEAD_LETTER_STREAM", default_value = "CERTS_DLQ",
        value_parser = values::stream_name, help_heading = "Events")]
    pub dead_letter_stream: StreamName,

    /// Number of copies JetStream keeps of each message in both streams: 1 on a single server,
    /// 3 in a 3-node cluster. The service applies it when it creates or updates the streams at
    /// start.
    #[arg(long, env = "CERTITUDE_EVENT_STREAM_REPLICAS", default_value = "1",
        value_parser = values::stream_replicas, help_heading = "Events")]
    pub event_stream_replicas: usize,

    /// Address and port of the gRPC server.
    #[arg(long, env = "CERTITUDE_GRPC_LISTEN", default_value = "0.0.0.0:50051",
        value_parser = values::socket_addr, help_heading = "Listeners")]
    pub grpc_listen: SocketAddr,

    /// Address and port of the HTTP server for /healthz and /readyz.
    #[arg(long, env = "CERTITUDE_HTTP_LISTEN", default_value = "0.0.0.0:8080",
        value_parser = values::socket_addr, help_heading = "Listeners")]
    pub http_listen: SocketAddr,

    /// Format of log lines on stdout.
    #[arg(
        long,
        env = "CERTITUDE_LOG_FORMAT",
        value_enum,
        default_value = "text",
        help_heading = "Telemetry"
    )]
    pub log_format: LogFormat,

    /// Log and span filter directives, such as info or info,sqlx=warn.
    #[arg(long, env = "RUST_LOG", default_value = "info", value_parser = values::log_filter,
        help_heading = "Telemetry")]
    pub log_filter: String,

    /// OTLP/gRPC collector endpoint for traces, such as http://127.0.0.1:4317; unset, no
    /// spans are exported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = values::optional_url,
        help_heading = "Telemetry")]
    pub otlp_endpoint: Option<String>,

    /// Service name reported with traces, in place of the service's own name.
    #[arg(long, env = "OTEL_SERVICE_NAME", help_heading = "Telemetry")]
    pub otel_service_name: Option<String>,

    /// Master keys that seal secrets, as ID:BASE64 entries separated by commas, current key
    /// first; each key is 32 bytes.
    #[arg(long, env = "CERTITUDE_MASTER_KEYS", hide_env_values = true,
        value_parser = values::master_keys, conflicts_with = "master_key_file",
        help_heading = "Secrets")]
    pub master_keys: Option<Keyring>,

    /// File with one ID:BASE64 master key per line, current key first, in place of
    /// CERTITUDE_MASTER_KEYS.
    #[arg(long, env = "CERTITUDE_MASTER_KEY_FILE", value_parser = values::master_key_file,
        help_heading = "Secrets")]
    pub master_key_file: Option<MasterKeyFile>,
}

impl CommonConfig {
    /// Argument id of [`CommonConfig::db_schema`], for `#[command(mut_arg(...))]` in a service's
    /// config to give the schema its default (see [`CommonConfig::schema_default`]).
    pub const DB_SCHEMA_ARG: &'static str = "db_schema";

    /// Returns the argument change that gives `CERTITUDE_DB_SCHEMA` a default, for
    /// `#[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("inventory")))]`.
    /// The default is validated like a set value when the config loads.
    pub fn schema_default(schema: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
        move |arg| arg.default_value(schema).required(false)
    }

    /// Returns the master keys from `CERTITUDE_MASTER_KEYS` or `CERTITUDE_MASTER_KEY_FILE`.
    /// Fails when neither is set; services that seal secrets call it at startup.
    pub fn keyring(&self) -> Result<Keyring, ConfigError> {
        match (&self.master_keys, &self.master_key_file) {
            (Some(keyring), _) => Ok(keyring.clone()),
            (None, Some(file)) => Ok(file.keyring.clone()),
            (None, None) => Err(ConfigError::NoMasterKey),
        }
    }

    /// Returns the settings of the service's Postgres pool: `DATABASE_URL`, the schema and the
    /// pool size from this config, the other limits at [`DbSettings::new`]'s defaults, and
    /// `application_name` for `pg_stat_activity`.
    pub fn db_settings(&self, application_name: impl Into<String>) -> DbSettings {
        let mut settings = DbSettings::new(
            SecretString::from(self.database_url.expose_secret()),
            self.db_schema.as_str(),
        );
        settings.max_connections = self.db_max_connections;
        settings.application_name = Some(application_name.into());
        settings
    }

    /// Returns the event stream settings: the configured stream, subject prefix and
    /// dead-letter stream. Dead letters go to subjects under `<subject prefix>_dlq`, and the
    /// limits are [`EventsSettings::new`]'s defaults.
    pub fn events_settings(&self) -> EventsSettings {
        EventsSettings {
            dead_letter_stream: self.dead_letter_stream.as_str().to_owned(),
            replicas: self.event_stream_replicas,
            ..EventsSettings::new(self.event_stream.as_str(), self.subject_prefix.as_str())
        }
    }

    /// Returns the settings [`crate::telemetry::init`] takes.
    pub fn telemetry_settings(&self) -> TelemetrySettings {
        TelemetrySettings {
            log_filter: self.log_filter.clone(),
            log_format: self.log_format,
            otlp_endpoint: self.otlp_endpoint.clone(),
            service_name: self.otel_service_name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;

    #[derive(clap::Parser, Debug)]
    #[command(name = "example")]
    #[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("example")))]
    struct Example {
        #[command(flatten)]
        common: CommonConfig,
    }

    const DATABASE_URL: &str = "postgres://example:secret@127.0.0.1:5432/certitude";

    fn load_common(extra: &[(&str, &str)]) -> CommonConfig {
        let mut vars = vec![("DATABASE_URL", DATABASE_URL)];
        vars.extend_from_slice(extra);
        let example: Example = load_from_vars(vars).expect("the settings are valid");
        example.common
    }

    #[test]
    fn db_settings_take_url_schema_pool_size() {
        let common = load_common(&[
            ("CERTITUDE_DB_SCHEMA", "example_blue"),
            ("CERTITUDE_DB_MAX_CONNECTIONS", "4"),
        ]);

        let settings = common.db_settings("certitude-example");

        assert_eq!(settings.url.expose_secret(), DATABASE_URL);
        assert_eq!(settings.schema, "example_blue");
        assert_eq!(settings.max_connections, 4);
        assert_eq!(
            settings.application_name.as_deref(),
            Some("certitude-example")
        );
    }

    #[test]
    fn db_settings_keep_default_limits() {
        let settings = load_common(&[]).db_settings("example");

        assert_eq!(settings.schema, "example");
        assert_eq!(settings.max_connections, 10);
        assert_eq!(settings.min_connections, 0);
        assert_eq!(settings.acquire_timeout, Duration::from_secs(5));
        assert_eq!(settings.statement_timeout, Duration::from_secs(30));
    }

    #[test]
    fn events_settings_take_configured_names() {
        let common = load_common(&[
            ("CERTITUDE_EVENT_STREAM", "ORDERS"),
            ("CERTITUDE_SUBJECT_PREFIX", "orders"),
            ("CERTITUDE_DEAD_LETTER_STREAM", "PARKED"),
        ]);

        let settings = common.events_settings();

        assert_eq!(settings.stream, "ORDERS");
        assert_eq!(settings.subject_prefix, "orders");
        assert_eq!(settings.dead_letter_stream, "PARKED");
        assert_eq!(settings.dead_letter_prefix, "orders_dlq");
    }

    #[test]
    fn events_settings_take_stream_replicas() {
        let common = load_common(&[("CERTITUDE_EVENT_STREAM_REPLICAS", "3")]);

        let settings = common.events_settings();

        assert_eq!(settings.replicas, 3);
    }

    #[test]
    fn stream_replicas_outside_one_to_five_are_rejected() {
        for value in ["0", "6", "three"] {
            let vars = [
                ("DATABASE_URL", DATABASE_URL),
                ("CERTITUDE_EVENT_STREAM_REPLICAS", value),
            ];

            let loaded: Result<Example, _> = load_from_vars(vars);

            let error = loaded
                .expect_err("the replica count is invalid")
                .to_string();

            assert!(
                error.contains("CERTITUDE_EVENT_STREAM_REPLICAS"),
                "error for {value:?} names the variable: {error}"
            );
        }
    }

    #[test]
    fn events_settings_default_to_certs_streams() {
        let settings = load_common(&[]).events_settings();

        assert_eq!(settings, EventsSettings::default());
    }
}
