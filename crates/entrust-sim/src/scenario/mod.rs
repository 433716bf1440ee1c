//! Scenarios: the account a simulator starts with, read from a JSON file.
//!
//! A scenario names the API users, clients, organizations, domains, inventory and existing
//! orders. Dates are given in days relative to the simulator's clock at start (`expiresInDays`,
//! `issuedDaysAgo`), so a scenario stays valid whatever day it runs. Only certificates embedded
//! as PEM keep their own dates. Keys are camelCase and unknown keys are rejected, so a typo fails
//! at load instead of silently changing the account.

mod account;
mod generate;
mod orders;
mod validate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use account::{
    AccountSettings, ApiUser, AuthorizationContact, ClientAddress, ScenarioClient, ScenarioDomain,
    ScenarioInventoryItem, ScenarioOrganization,
};
pub use generate::GenerateOptions;
pub(crate) use orders::order_has_certificate;
pub use orders::{ScenarioOrder, SeedKeyType, ThirdPartyCertificate};

const DEMO_JSON: &str = include_str!("../../scenarios/demo.json");

/// Errors loading or checking a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario file could not be read.
    #[error("failed to read scenario file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid scenario JSON.
    #[error("scenario {origin} is not valid scenario JSON")]
    Parse {
        /// The file name, or `demo` for the embedded scenario.
        origin: String,
        /// The JSON failure, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The scenario parses but contradicts itself.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// The scenario could not be written as JSON.
    #[error("failed to serialize the scenario as JSON")]
    Serialize(#[source] serde_json::Error),
}

/// The account a simulator serves. Fields are public so that tests can start from
/// [`Scenario::demo`] and change one detail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Account-wide settings.
    pub account: AccountSettings,
    /// Users that may call the API with HTTP Basic authentication.
    pub api_users: Vec<ApiUser>,
    /// Clients of the account; client 1 is the primary client.
    pub clients: Vec<ScenarioClient>,
    /// Organizations across all clients.
    #[serde(default)]
    pub organizations: Vec<ScenarioOrganization>,
    /// Domains across all clients.
    #[serde(default)]
    pub domains: Vec<ScenarioDomain>,
    /// Products that `GET /inventories` reports and orders consume.
    #[serde(default)]
    pub inventory: Vec<ScenarioInventoryItem>,
    /// Orders that exist at start, numbered from `account.firstTrackingId` in file order.
    #[serde(default)]
    pub orders: Vec<ScenarioOrder>,
    /// Certificates the account has on record without having ordered them (trackingId 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub third_party_certificates: Vec<ThirdPartyCertificate>,
}

impl Scenario {
    /// Returns the embedded demo scenario (`scenarios/demo.json`).
    pub fn demo() -> Scenario {
        let scenario = parse(DEMO_JSON, "demo").expect("the embedded demo scenario is valid JSON");
        scenario
            .validate()
            .expect("the embedded demo scenario is consistent");
        scenario
    }

    /// Reads and checks a scenario file.
    pub fn from_path(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let scenario = parse(&text, &path.display().to_string())?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Parses scenario JSON from a string and checks it.
    pub fn from_json(json: &str) -> anyhow::Result<Scenario> {
        let scenario = parse(json, "string")?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Serializes the scenario as pretty-printed JSON that [`Scenario::from_json`] reads back.
    /// The output contains the API keys.
    pub fn to_json(&self) -> Result<String, ScenarioError> {
        serde_json::to_string_pretty(self).map_err(ScenarioError::Serialize)
    }
}

fn parse(json: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    serde_json::from_str(json).map_err(|source| ScenarioError::Parse {
        origin: origin.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::model::CertificateStatus;

    #[test]
    fn demo_scenario_loads() {
        let demo = Scenario::demo();

        assert_eq!(demo.api_users[0].user_name, "demo-admin");
        assert_eq!(
            demo.api_users[0].api_key.expose_secret(),
            "sim-demo-admin-key"
        );
    }

    #[test]
    fn demo_file_loads_from_path() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.json");

        let scenario = Scenario::from_path(&path).unwrap();

        assert_eq!(scenario.orders.len(), Scenario::demo().orders.len());
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let error = Scenario::from_path(Path::new("/nonexistent/scenario.json")).unwrap_err();

        assert!(
            error.to_string().contains("/nonexistent/scenario.json"),
            "{error}"
        );
    }

    #[test]
    fn api_key_is_redacted_in_debug() {
        let demo = Scenario::demo();

        let debug = format!("{demo:?}");

        assert!(!debug.contains("sim-demo-admin-key"));
        assert!(!debug.contains("sim-demo-requester-key"));
    }

    #[test]
    fn unknown_key_is_rejected() {
        let json = DEMO_JSON.replacen("\"account\": {", "\"account\": {\"colour\": 1,", 1);

        let error = Scenario::from_json(&json).unwrap_err();

        assert!(format!("{error:#}").contains("colour"), "{error:#}");
    }

    #[test]
    fn stored_expired_status_is_rejected() {
        let mut scenario = Scenario::demo();
        scenario.orders[0].status = CertificateStatus::Expired;

        let error = scenario.validate().unwrap_err();

        assert!(
            error.to_string().contains("derived from the clock"),
            "{error}"
        );
    }

    #[test]
    fn order_for_unknown_client_is_rejected() {
        let mut scenario = Scenario::demo();
        scenario.orders[0].client_id = 99;

        let error = scenario.validate().unwrap_err();

        assert!(error.to_string().contains("unknown client 99"), "{error}");
    }
}
