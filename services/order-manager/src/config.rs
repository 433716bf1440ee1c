//! The service's configuration: the settings every service shares, the addresses of the
//! services it calls, and the timing of the poller, the reconcilers and imports.

use std::ffi::OsString;
use std::time::Duration;

use certitude_platform::config::{self, CommonConfig, ConfigError};

/// Default Postgres schema of the service.
pub const DEFAULT_SCHEMA: &str = "order_manager";

/// Settings of order-manager. `--help` lists each with its environment variable.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg(
    CommonConfig::DB_SCHEMA_ARG,
    CommonConfig::schema_default(DEFAULT_SCHEMA)
))]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// gRPC URL of credential-sync, which resolves a credential id into a usable credential.
    #[arg(long, env = "CERTITUDE_CREDENTIAL_SYNC_URL", default_value = "http://127.0.0.1:50052",
        value_parser = service_url, help_heading = "Services")]
    pub credential_sync_url: String,

    /// gRPC URL of inventory, which generates each order's key pair and CSR.
    #[arg(long, env = "CERTITUDE_INVENTORY_URL", default_value = "http://127.0.0.1:50054",
        value_parser = service_url, help_heading = "Services")]
    pub inventory_url: String,

    /// Deadline of one call to credential-sync or inventory, such as 30s.
    #[arg(long, env = "CERTITUDE_SERVICE_CALL_TIMEOUT", default_value = "30s",
        value_parser = config::positive_duration, help_heading = "Services")]
    pub service_call_timeout: Duration,

    /// Limit on one HTTP attempt to Entrust, from connecting to the end of the response.
    #[arg(long, env = "CERTITUDE_ENTRUST_TIMEOUT", default_value = "60s",
        value_parser = config::positive_duration, help_heading = "Entrust")]
    pub entrust_timeout: Duration,

    /// How long a resolved credential is reused before credential-sync is asked again, so a
    /// rotated API key takes effect within this time.
    #[arg(long, env = "CERTITUDE_CREDENTIAL_CACHE_TTL", default_value = "5m",
        value_parser = config::positive_duration, help_heading = "Entrust")]
    pub credential_cache_ttl: Duration,

    /// Validity of a new certificate, in days, when the request names none. It is lowered to
    /// the public TLS maximum in force on the order date (200 days from 2026-03-15, 100 from
    /// 2027-03-15, 47 from 2029-03-15) when that is shorter.
    #[arg(long, env = "CERTITUDE_ORDER_DEFAULT_VALIDITY_DAYS", default_value = "199",
        value_parser = clap::value_parser!(u32).range(1..=3650), help_heading = "Orders")]
    pub default_validity_days: u32,

    /// Maximum validity in days of private products (PRIVATE_SSL), which the public TLS
    /// maximum does not bind; Entrust may still apply the account's own, shorter maximum.
    #[arg(long, env = "CERTITUDE_ORDER_PRIVATE_MAX_VALIDITY_DAYS", default_value = "825",
        value_parser = clap::value_parser!(u32).range(1..=3650), help_heading = "Orders")]
    pub private_max_validity_days: u32,

    /// Time between two rounds of the poller, and the first wait before an order not yet
    /// issued is checked again, such as 10s.
    #[arg(long, env = "CERTITUDE_ORDER_POLL_INTERVAL", default_value = "10s",
        value_parser = config::positive_duration, help_heading = "Orders")]
    pub poll_interval: Duration,

    /// Upper bound of the wait between two checks of one order; the wait doubles from
    /// CERTITUDE_ORDER_POLL_INTERVAL up to this.
    #[arg(long, env = "CERTITUDE_ORDER_POLL_MAX_BACKOFF", default_value = "1h",
        value_parser = config::positive_duration, help_heading = "Orders")]
    pub poll_max_backoff: Duration,

    /// Orders claimed per poller round.
    #[arg(long, env = "CERTITUDE_ORDER_POLL_BATCH_SIZE", default_value = "50",
        value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Orders")]
    pub poll_batch_size: u32,

    /// How long a replica's claim on an order keeps other replicas off it. It must outlast
    /// one Entrust call with its retries.
    #[arg(long, env = "CERTITUDE_ORDER_CLAIM_LEASE", default_value = "5m",
        value_parser = config::positive_duration, help_heading = "Orders")]
    pub claim_lease: Duration,

    /// How long after a submission with an unknown outcome the reconciler keeps looking for
    /// the order at Entrust before it submits the order again.
    #[arg(long, env = "CERTITUDE_ORDER_RECONCILE_WINDOW", default_value = "10m",
        value_parser = config::positive_duration, help_heading = "Orders")]
    pub reconcile_window: Duration,

    /// Time between two rounds of the portal reconcile, which lists the orders Entrust reports
    /// as suspended, revoked, deactivated or replaced and updates ISSUED and SUSPENDED orders
    /// that changed outside Certitude, such as 15m. Each round waits up to a tenth more or less.
    #[arg(long, env = "CERTITUDE_ORDER_PORTAL_RECONCILE_INTERVAL", default_value = "15m",
        value_parser = config::positive_duration, help_heading = "Orders")]
    pub portal_reconcile_interval: Duration,

    /// Orders requested per page of the Entrust listing, by imports and the portal reconcile.
    #[arg(long, env = "CERTITUDE_IMPORT_PAGE_SIZE", default_value = "500",
        value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Orders")]
    pub import_page_size: u32,

    /// Order details an import fetches from Entrust at once, for the certificates of a page.
    /// The credential's rate limit still applies to each request.
    #[arg(long, env = "CERTITUDE_IMPORT_FETCH_CONCURRENCY", default_value = "8",
        value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Orders")]
    pub import_fetch_concurrency: u32,
}

/// The config as a command of its own, for [`Config::from_pairs`].
#[derive(Debug, clap::Parser)]
#[command(name = "order-manager")]
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

fn service_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    match url::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(trimmed.to_owned())
        }
        _ => Err("expected an http or https URL, such as http://inventory:50051".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABASE_URL: (&str, &str) = ("DATABASE_URL", "postgres://postgres@127.0.0.1/postgres");

    #[test]
    fn defaults_apply_without_service_variables() {
        let config = Config::from_pairs([DATABASE_URL]).expect("the defaults are valid");

        assert_eq!(config.common.db_schema.as_str(), "order_manager");
        assert_eq!(config.credential_sync_url, "http://127.0.0.1:50052");
        assert_eq!(config.inventory_url, "http://127.0.0.1:50054");
        assert_eq!(config.poll_interval, Duration::from_secs(10));
        assert_eq!(config.poll_batch_size, 50);
        assert_eq!(config.default_validity_days, 199);
        assert_eq!(config.reconcile_window, Duration::from_secs(600));
        assert_eq!(config.portal_reconcile_interval, Duration::from_secs(900));
    }

    #[test]
    fn portal_reconcile_interval_is_read() {
        let config = Config::from_pairs([
            DATABASE_URL,
            ("CERTITUDE_ORDER_PORTAL_RECONCILE_INTERVAL", "2h"),
        ])
        .expect("the value is valid");

        assert_eq!(config.portal_reconcile_interval, Duration::from_secs(7200));
    }

    #[test]
    fn zero_portal_reconcile_interval_is_rejected() {
        let error = Config::from_pairs([
            DATABASE_URL,
            ("CERTITUDE_ORDER_PORTAL_RECONCILE_INTERVAL", "0s"),
        ])
        .expect_err("a zero interval is invalid");

        let message = error.to_string();
        assert!(
            message.contains("CERTITUDE_ORDER_PORTAL_RECONCILE_INTERVAL"),
            "{message}"
        );
    }

    #[test]
    fn service_variables_are_read() {
        let config = Config::from_pairs([
            DATABASE_URL,
            (
                "CERTITUDE_CREDENTIAL_SYNC_URL",
                "http://credential-sync:50051",
            ),
            ("CERTITUDE_INVENTORY_URL", "https://inventory:50051"),
            ("CERTITUDE_ORDER_POLL_INTERVAL", "250ms"),
            ("CERTITUDE_ORDER_POLL_BATCH_SIZE", "7"),
            ("CERTITUDE_ORDER_DEFAULT_VALIDITY_DAYS", "90"),
        ])
        .expect("the values are valid");

        assert_eq!(config.credential_sync_url, "http://credential-sync:50051");
        assert_eq!(config.inventory_url, "https://inventory:50051");
        assert_eq!(config.poll_interval, Duration::from_millis(250));
        assert_eq!(config.poll_batch_size, 7);
        assert_eq!(config.default_validity_days, 90);
    }

    #[test]
    fn zero_poll_interval_is_rejected_with_its_variable() {
        let error = Config::from_pairs([DATABASE_URL, ("CERTITUDE_ORDER_POLL_INTERVAL", "0s")])
            .expect_err("a zero interval is invalid");

        let message = error.to_string();
        assert!(
            message.contains("CERTITUDE_ORDER_POLL_INTERVAL"),
            "{message}"
        );
        assert!(message.contains("greater than zero"), "{message}");
    }

    #[test]
    fn service_url_without_scheme_is_rejected() {
        let error = Config::from_pairs([DATABASE_URL, ("CERTITUDE_INVENTORY_URL", "inventory")])
            .expect_err("a bare host name is not a URL");

        let message = error.to_string();
        assert!(message.contains("CERTITUDE_INVENTORY_URL"), "{message}");
    }

    #[test]
    fn batch_size_out_of_range_is_rejected() {
        let error = Config::from_pairs([DATABASE_URL, ("CERTITUDE_ORDER_POLL_BATCH_SIZE", "0")])
            .expect_err("zero orders per round is invalid");

        assert!(
            error
                .to_string()
                .contains("CERTITUDE_ORDER_POLL_BATCH_SIZE"),
            "{error}"
        );
    }
}
