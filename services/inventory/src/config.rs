//! The inventory's settings: the platform's common settings (schema `inventory` by default) and
//! the limit on concurrent key generations.

use std::ffi::OsString;
use std::num::NonZeroUsize;

use certitude_platform::config::{self, CommonConfig, ConfigError};

/// Settings of the inventory service.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("inventory")))]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// Maximum number of key pairs generated at once; further GenerateKey calls wait for a slot.
    /// Defaults to the number of CPUs.
    #[arg(
        long,
        env = "CERTITUDE_INVENTORY_KEYGEN_CONCURRENCY",
        help_heading = "Inventory"
    )]
    pub keygen_concurrency: Option<NonZeroUsize>,
}

/// The inventory's settings as a standalone command, for loading them outside the `certitude`
/// binary.
#[derive(Debug, clap::Parser)]
#[command(name = "inventory")]
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

    /// Returns how many key pairs may be generated at once.
    pub fn keygen_slots(&self) -> usize {
        self.keygen_concurrency
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABASE_URL: (&str, &str) = ("DATABASE_URL", "postgres://inventory@127.0.0.1/certitude");

    #[test]
    fn schema_defaults_to_inventory() {
        let config = Config::from_pairs([DATABASE_URL]).expect("the config loads");

        assert_eq!(config.common.db_schema.as_str(), "inventory");
    }

    #[test]
    fn keygen_concurrency_reads_its_variable() {
        let config = Config::from_pairs([
            DATABASE_URL,
            ("CERTITUDE_INVENTORY_KEYGEN_CONCURRENCY", "3"),
        ])
        .expect("the config loads");

        assert_eq!(config.keygen_slots(), 3);
    }

    #[test]
    fn zero_keygen_concurrency_is_rejected_by_name() {
        let error = Config::from_pairs([
            DATABASE_URL,
            ("CERTITUDE_INVENTORY_KEYGEN_CONCURRENCY", "0"),
        ])
        .expect_err("0 is not a valid slot count");

        assert!(
            error
                .to_string()
                .contains("CERTITUDE_INVENTORY_KEYGEN_CONCURRENCY"),
            "{error}"
        );
    }

    #[test]
    fn missing_database_url_is_named() {
        let error = Config::from_pairs(Vec::<(String, String)>::new()).expect_err("required");

        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }
}
