//! The renewal scheduler's settings: the platform's common settings, schema `renewal` by
//! default.

use std::ffi::OsString;

use certitude_platform::config::{self, CommonConfig, ConfigError};

/// Settings of the renewal scheduler.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("renewal")))]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,
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
    fn invalid_schema_is_rejected_by_name() {
        let error = Config::from_pairs([
            ("DATABASE_URL", "postgres://renewal@127.0.0.1/certitude"),
            ("CERTITUDE_DB_SCHEMA", "Renewal-Scheduler"),
        ])
        .expect_err("the schema name needs quoting");

        assert!(error.to_string().contains("CERTITUDE_DB_SCHEMA"), "{error}");
    }
}
