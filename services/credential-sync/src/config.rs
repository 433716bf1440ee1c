//! The service's configuration: the settings every service shares, plus the catalog sync
//! schedule, the limits of calls to Entrust, and the address of order-manager.

use std::ffi::OsString;
use std::time::Duration;

use certitude_platform::config::{self, CommonConfig, ConfigError};
use clap::ArgAction;

/// Default Postgres schema of the service.
pub const DEFAULT_SCHEMA: &str = "credential_sync";

/// Settings of credential-sync. `--help` lists each with its environment variable.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg(
    CommonConfig::DB_SCHEMA_ARG,
    CommonConfig::schema_default(DEFAULT_SCHEMA)
))]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// Time between two scheduled catalog syncs of each credential, such as 6h or 90m. Each
    /// credential waits up to 10 % more or less, drawn anew after every sync, so that
    /// credentials do not all sync at once.
    #[arg(long, env = "CERTITUDE_CATALOG_SYNC_INTERVAL", default_value = "6h",
        value_parser = config::positive_duration, help_heading = "Entrust")]
    pub catalog_sync_interval: Duration,

    /// Limit on one HTTP attempt to Entrust, from connecting to the end of the response, such
    /// as 60s.
    #[arg(long, env = "CERTITUDE_ENTRUST_TIMEOUT", default_value = "60s",
        value_parser = config::positive_duration, help_heading = "Entrust")]
    pub entrust_timeout: Duration,

    /// Limit on the one attempt that verifies a new credential against Entrust (GET
    /// /application/version), such as 15s. AddCredential waits for it without retrying, so
    /// keep it well under the callers' deadline (the gateway's CERTITUDE_SERVICE_TIMEOUT_SECS,
    /// 60 by default).
    #[arg(long, env = "CERTITUDE_ENTRUST_VERIFY_TIMEOUT", default_value = "15s",
        value_parser = config::positive_duration, help_heading = "Entrust")]
    pub entrust_verify_timeout: Duration,

    /// Whether credentials may use a plain-HTTP API URL on a loopback host (127.0.0.1, ::1,
    /// localhost), as a local Entrust simulator serves. Remote hosts always need https.
    #[arg(long, env = "CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", default_value = "false",
        action = ArgAction::Set, value_parser = config::boolean, help_heading = "Entrust")]
    pub entrust_allow_loopback_http: bool,

    /// Hosts a credential's API URL may name, separated by commas, such as api.entrust.net:
    /// an egress allowlist that keeps API users from pointing Certitude at other hosts. Empty
    /// (the default) allows every host.
    #[arg(long, env = "CERTITUDE_ENTRUST_ALLOWED_HOSTS", value_delimiter = ',',
        value_parser = allowed_host, help_heading = "Entrust")]
    pub entrust_allowed_hosts: Vec<String>,

    /// gRPC URL of order-manager, which counts the orders that use a credential before the
    /// credential is deleted.
    #[arg(long, env = "CERTITUDE_ORDER_MANAGER_URL", default_value = "http://127.0.0.1:50053",
        value_parser = service_url, help_heading = "Services")]
    pub order_manager_url: String,

    /// Deadline of one call to order-manager, such as 30s.
    #[arg(long, env = "CERTITUDE_SERVICE_CALL_TIMEOUT", default_value = "30s",
        value_parser = config::positive_duration, help_heading = "Services")]
    pub service_call_timeout: Duration,
}

/// Accepts a host name or IP address, without scheme, port or path.
fn allowed_host(value: &str) -> Result<String, String> {
    let host = value.trim();
    match url::Host::parse(host) {
        Ok(_) if !host.contains('/') => Ok(host.to_ascii_lowercase()),
        _ => Err(format!(
            "{host:?} is not a host name: give names such as api.entrust.net, without \
             scheme, port or path"
        )),
    }
}

/// Accepts an http or https URL with a host, such as http://order-manager:50051.
fn service_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    match url::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(trimmed.to_owned())
        }
        _ => Err("expected an http or https URL, such as http://order-manager:50051".to_owned()),
    }
}

/// The config as a command of its own, for [`Config::from_pairs`].
#[derive(Debug, clap::Parser)]
#[command(name = "credential-sync")]
struct Standalone {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Builds a config from explicit (variable, value) pairs only, ignoring the process
    /// environment and command line; for tests and embedding. Fails like the service's start
    /// would, naming the variable at fault.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Config, ConfigError>
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        config::load_from_vars::<Standalone, _, _>(pairs).map(|standalone| standalone.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABASE_URL: (&str, &str) = ("DATABASE_URL", "postgres://postgres@127.0.0.1/postgres");

    #[test]
    fn defaults_apply_without_service_variables() {
        let config = Config::from_pairs([DATABASE_URL]).expect("the defaults are valid");

        assert_eq!(config.common.db_schema.as_str(), "credential_sync");
        assert_eq!(
            config.catalog_sync_interval,
            Duration::from_secs(6 * 60 * 60)
        );
        assert_eq!(config.entrust_timeout, Duration::from_secs(60));
        assert_eq!(config.entrust_verify_timeout, Duration::from_secs(15));
        assert!(!config.entrust_allow_loopback_http);
        assert_eq!(config.order_manager_url, "http://127.0.0.1:50053");
        assert_eq!(config.service_call_timeout, Duration::from_secs(30));
    }

    #[test]
    fn allowed_hosts_are_a_list_of_host_names() {
        let config = Config::from_pairs([
            DATABASE_URL,
            (
                "CERTITUDE_ENTRUST_ALLOWED_HOSTS",
                "API.entrust.net, 127.0.0.1",
            ),
        ])
        .expect("two host names");
        let error = Config::from_pairs([
            DATABASE_URL,
            (
                "CERTITUDE_ENTRUST_ALLOWED_HOSTS",
                "https://api.entrust.net/enterprise/v2",
            ),
        ])
        .expect_err("a URL is not a host name");

        assert_eq!(
            config.entrust_allowed_hosts,
            ["api.entrust.net", "127.0.0.1"]
        );
        assert!(
            Config::from_pairs([DATABASE_URL])
                .expect("defaults")
                .entrust_allowed_hosts
                .is_empty()
        );
        let message = error.to_string();
        assert!(
            message.contains("CERTITUDE_ENTRUST_ALLOWED_HOSTS"),
            "{message}"
        );
        assert!(
            message.contains("without scheme, port or path"),
            "{message}"
        );
    }

    #[test]
    fn service_variables_are_read() {
        let config = Config::from_pairs([
            DATABASE_URL,
            ("CERTITUDE_CATALOG_SYNC_INTERVAL", "90m"),
            ("CERTITUDE_ENTRUST_TIMEOUT", "5s"),
            ("CERTITUDE_ENTRUST_VERIFY_TIMEOUT", "2500ms"),
            ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true"),
            ("CERTITUDE_DB_SCHEMA", "credential_sync_blue"),
            ("CERTITUDE_ORDER_MANAGER_URL", "https://order-manager:50051"),
            ("CERTITUDE_SERVICE_CALL_TIMEOUT", "5s"),
        ])
        .expect("the values are valid");

        assert_eq!(config.catalog_sync_interval, Duration::from_secs(90 * 60));
        assert_eq!(config.entrust_timeout, Duration::from_secs(5));
        assert_eq!(config.entrust_verify_timeout, Duration::from_millis(2500));
        assert!(config.entrust_allow_loopback_http);
        assert_eq!(config.common.db_schema.as_str(), "credential_sync_blue");
        assert_eq!(config.order_manager_url, "https://order-manager:50051");
        assert_eq!(config.service_call_timeout, Duration::from_secs(5));
    }

    #[test]
    fn order_manager_url_without_host_is_rejected() {
        let error = Config::from_pairs([DATABASE_URL, ("CERTITUDE_ORDER_MANAGER_URL", "50053")])
            .expect_err("the URL has no scheme or host");

        let message = error.to_string();
        assert!(message.contains("CERTITUDE_ORDER_MANAGER_URL"), "{message}");
    }

    #[test]
    fn command_definition_is_consistent() {
        use clap::CommandFactory;

        Standalone::command().debug_assert();
    }

    #[test]
    fn zero_interval_is_rejected_with_its_variable() {
        let error = Config::from_pairs([DATABASE_URL, ("CERTITUDE_CATALOG_SYNC_INTERVAL", "0s")])
            .expect_err("a zero interval is invalid");

        let message = error.to_string();
        assert!(
            message.contains("CERTITUDE_CATALOG_SYNC_INTERVAL"),
            "{message}"
        );
        assert!(message.contains("greater than zero"), "{message}");
    }

    #[test]
    fn unparsable_timeout_is_rejected_with_its_variable() {
        let error = Config::from_pairs([DATABASE_URL, ("CERTITUDE_ENTRUST_TIMEOUT", "soon")])
            .expect_err("the timeout does not parse");

        let message = error.to_string();
        assert!(message.contains("CERTITUDE_ENTRUST_TIMEOUT"), "{message}");
        assert!(message.contains("\"soon\""), "{message}");
    }
}
