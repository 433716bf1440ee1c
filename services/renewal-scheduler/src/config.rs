//! The renewal scheduler's settings: the platform's common settings (schema `renewal` by
//! default), order-manager's address, and the timing of renewals and expiry warnings.

use std::ffi::OsString;
use std::time::Duration;

use certitude_platform::config::{self, CommonConfig, ConfigError};

/// Settings of the renewal scheduler. `--help` lists each with its environment variable.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("renewal")))]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// gRPC URL of order-manager, which renews and places orders.
    #[arg(long, env = "CERTITUDE_ORDER_MANAGER_URL", default_value = "http://127.0.0.1:50053",
        value_parser = service_url, help_heading = "Services")]
    pub order_manager_url: String,

    /// Deadline of one call to order-manager, such as 90s. A renewal waits for Entrust, so it
    /// must outlast order-manager's Entrust timeout.
    #[arg(long, env = "CERTITUDE_SERVICE_CALL_TIMEOUT", default_value = "90s",
        value_parser = config::positive_duration, help_heading = "Services")]
    pub service_call_timeout: Duration,

    /// Time between two scans for due renewals and expiry warnings, such as 30s.
    #[arg(long, env = "CERTITUDE_RENEWAL_SCAN_INTERVAL", default_value = "30s",
        value_parser = config::positive_duration, help_heading = "Renewals")]
    pub scan_interval: Duration,

    /// Certificates claimed per scan by one replica.
    #[arg(long, env = "CERTITUDE_RENEWAL_BATCH_SIZE", default_value = "50",
        value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Renewals")]
    pub batch_size: u32,

    /// How long a replica's claim on a certificate keeps other replicas off it. It must outlast
    /// one renewal call; a replica that dies loses its claims after this time.
    #[arg(long, env = "CERTITUDE_RENEWAL_CLAIM_LEASE", default_value = "5m",
        value_parser = config::positive_duration, help_heading = "Renewals")]
    pub claim_lease: Duration,

    /// Renewals in flight at once per Entrust credential, over every replica.
    #[arg(long, env = "CERTITUDE_RENEWAL_CREDENTIAL_CONCURRENCY", default_value = "4",
        value_parser = clap::value_parser!(u32).range(1..=100), help_heading = "Renewals")]
    pub credential_concurrency: u32,

    /// Upper bound of the delay added to each planned renewal, derived from the certificate
    /// id, so renewals planned for one instant spread out; 0s turns it off.
    #[arg(long, env = "CERTITUDE_RENEWAL_JITTER", default_value = "1h",
        value_parser = humantime::parse_duration, help_heading = "Renewals")]
    pub jitter: Duration,

    /// Delay before the second attempt of a failed renewal; it doubles with each further
    /// attempt up to CERTITUDE_RENEWAL_RETRY_MAX_BACKOFF.
    #[arg(long, env = "CERTITUDE_RENEWAL_RETRY_BACKOFF", default_value = "10m",
        value_parser = config::positive_duration, help_heading = "Renewals")]
    pub retry_backoff: Duration,

    /// Upper bound of the delay between two attempts of a renewal.
    #[arg(long, env = "CERTITUDE_RENEWAL_RETRY_MAX_BACKOFF", default_value = "6h",
        value_parser = config::positive_duration, help_heading = "Renewals")]
    pub retry_max_backoff: Duration,

    /// Days before expiry at which CertificateExpiring is sent, comma-separated.
    #[arg(long, env = "CERTITUDE_EXPIRY_WARNING_DAYS", default_value = "30,14,7,1",
        value_parser = warning_days, help_heading = "Renewals")]
    pub warning_days: WarningDays,

    /// Test support: the named point at which a renewal stops and waits forever, so that a
    /// test can kill the process there. The only point is `renewal-after-order-placed`.
    #[arg(long, env = "CERTITUDE_RENEWAL_FAULT_POINT", hide = true)]
    pub fault_point: Option<String>,
}

/// Warning thresholds in days before expiry, largest first, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningDays(pub Vec<u32>);

fn warning_days(value: &str) -> Result<WarningDays, String> {
    let mut days = Vec::new();
    for part in value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        match part.parse::<u32>() {
            Ok(day) if (1..=365).contains(&day) => days.push(day),
            _ => return Err(format!("{part:?} is not a number of days from 1 to 365")),
        }
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    Ok(WarningDays(days))
}

fn service_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    let valid = trimmed.starts_with("http://") || trimmed.starts_with("https://");
    if valid && trimmed.len() > "https://".len() {
        Ok(trimmed.to_owned())
    } else {
        Err("expected an http or https URL, such as http://order-manager:50051".to_owned())
    }
}

/// The scheduler's settings as a standalone command, for loading them outside the `certitude`
/// binary.
#[derive(Debug, clap::Parser)]
#[command(name = "renewal-scheduler")]
struct Standalone {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Builds a config from explicit (variable, value) pairs, ignoring the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Config, ConfigError>
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let standalone: Standalone = config::load_from_vars(pairs)?;
        Ok(standalone.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_defaults_to_renewal() {
        let config =
            Config::from_pairs([("DATABASE_URL", "postgres://renewal@127.0.0.1/certitude")])
                .expect("the config loads");

        assert_eq!(config.common.db_schema.as_str(), "renewal");
    }

    #[test]
    fn warning_days_are_sorted_largest_first() {
        let config = Config::from_pairs([
            ("DATABASE_URL", "postgres://renewal@127.0.0.1/certitude"),
            ("CERTITUDE_EXPIRY_WARNING_DAYS", "7, 30,1,14,7"),
        ])
        .expect("the config loads");

        assert_eq!(config.warning_days, WarningDays(vec![30, 14, 7, 1]));
    }

    #[test]
    fn zero_warning_day_is_rejected_by_name() {
        let error = Config::from_pairs([
            ("DATABASE_URL", "postgres://renewal@127.0.0.1/certitude"),
            ("CERTITUDE_EXPIRY_WARNING_DAYS", "30,0"),
        ])
        .expect_err("0 days is no warning");

        assert!(
            error.to_string().contains("CERTITUDE_EXPIRY_WARNING_DAYS"),
            "{error}"
        );
    }

    #[test]
    fn invalid_schema_is_rejected_by_name() {
        let error = Config::from_pairs([
            ("DATABASE_URL", "postgres://renewal@127.0.0.1/certitude"),
            ("CERTITUDE_DB_SCHEMA", "Renewal-Scheduler"),
        ])
        .expect_err("the schema name needs quoting");

        assert!(error.to_string().contains("CERTITUDE_DB_SCHEMA"), "{error}");
    }
}
