//! Scenarios: the account a simulator starts with, read from a JSON file.
//!
//! A scenario names the API users, clients, organizations, domains, inventory and existing
//! orders. Dates are given in days relative to the simulator's clock at start (`expiresInDays`,
//! `issuedDaysAgo`), so a scenario stays valid whatever day it runs. Only certificates embedded
//! as PEM keep their own dates. Keys are camelCase and unknown keys are rejected, so a typo fails
//! at load instead of silently changing the account.

mod validate;

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::model::{
    CertificateStatus, DomainStatus, Role, UserTracking, VerificationMethod, VerificationStatus,
};

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
}

/// The account a simulator serves. Fields are public so that tests can start from
/// [`Scenario::demo`] and change one detail.
#[derive(Debug, Clone, Deserialize)]
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
}

/// Account-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSettings {
    /// The build string `GET /application/version` returns.
    pub version: String,
    /// Tracking id of the first scenario order; new orders continue after the last one.
    pub first_tracking_id: i32,
    /// Maximum certificate validity the account accepts, in days from today (UTC).
    pub max_validity_days: u32,
    /// Pooling accounts honour `certExpiryDate` when a request carries both it and
    /// `certLifetime`; other accounts honour `certLifetime`.
    #[serde(default = "default_true")]
    pub pooling: bool,
    /// Appends the root certificate to `chainCerts` after the intermediate.
    #[serde(default)]
    pub include_root_in_chain: bool,
}

/// An API user of the account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiUser {
    /// The Basic-auth user name.
    pub user_name: String,
    /// The Basic-auth password; redacted in `Debug`.
    pub api_key: SecretString,
    /// The user's permissions.
    pub role: Role,
}

/// A client (a subsidiary of the account with its own organizations and domains).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioClient {
    /// Client id; 1 is the primary client.
    pub client_id: i64,
    /// Client name.
    pub client_name: String,
    /// Verification status of the client; orders need APPROVED.
    pub verification_status: VerificationStatus,
}

/// An organization a certificate may name in its `O` attribute.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOrganization {
    /// Organization name, as it appears in certificates.
    pub name: String,
    /// Verification status; orders need APPROVED.
    pub verification_status: VerificationStatus,
    /// The owning client.
    pub client_id: i64,
}

/// A domain of a client.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioDomain {
    /// Domain name, lower case.
    pub domain_name: String,
    /// The owning client.
    pub client_id: i64,
    /// Verification method.
    pub verification_method: VerificationMethod,
    /// Verification status.
    pub verification_status: DomainStatus,
    /// Whether OV certificates may use the domain.
    #[serde(default)]
    pub ov_eligible: bool,
    /// Days from start until the OV verification expires (negative: already expired).
    pub ov_expires_in_days: Option<i64>,
    /// Whether EV certificates may use the domain.
    #[serde(default)]
    pub ev_eligible: bool,
    /// Days from start until the EV verification expires.
    pub ev_expires_in_days: Option<i64>,
}

/// A product of the account inventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioInventoryItem {
    /// A certificate type, or `FLEX` for the pool every SSL type except `PD_SSL` may use.
    pub product_type: String,
    /// `UNLIMITED` for a product without counts; absent for counted products.
    pub consumption_type: Option<String>,
    /// Units ever added (counted products).
    #[serde(default)]
    pub total_count: u32,
    /// Units consumed and not expired (counted products).
    #[serde(default)]
    pub used_count: u32,
    /// Units still available (counted products).
    #[serde(default)]
    pub remaining_count: u32,
}

impl ScenarioInventoryItem {
    /// Reports whether the product has no counts.
    pub fn is_unlimited(&self) -> bool {
        self.consumption_type.as_deref() == Some("UNLIMITED")
    }
}

/// Key algorithm of a certificate the simulator issues for a scenario order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeedKeyType {
    /// ECDSA P-256 (fast to generate).
    #[default]
    Ec,
    /// RSA 2048.
    Rsa,
}

/// An order that exists when the simulator starts.
///
/// An order whose status implies a certificate (ACTIVE, REVOKED, SUSPENDED, DEACTIVATED, READY)
/// either embeds one as `certificatePem`, reported with its own serial and dates, or gets one
/// from the simulator's CA with a key generated at start. PENDING orders get a key and a CSR so
/// that approving them issues a certificate. EXPIRED is never stored: an order reads EXPIRED once
/// the clock passes its expiry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOrder {
    /// Stored status.
    pub status: CertificateStatus,
    /// Certificate type.
    pub cert_type: String,
    /// The ordering client.
    #[serde(default = "primary_client")]
    pub client_id: i64,
    /// Organization (`O`); defaults to the client's first APPROVED organization.
    pub org: Option<String>,
    /// Subject common name; required unless `certificatePem` is given.
    pub common_name: Option<String>,
    /// DNS names; the common name is added when missing.
    #[serde(default)]
    pub subject_alt_name: Vec<String>,
    /// Key algorithm of the generated key.
    #[serde(default)]
    pub key_type: SeedKeyType,
    /// Extended key usage; defaults to SERVER_AND_CLIENT_AUTH.
    pub eku: Option<String>,
    /// Days before start that the certificate was issued (default 30).
    pub issued_days_ago: Option<i64>,
    /// Days from start until expiry (default 335; negative: already expired).
    pub expires_in_days: Option<i64>,
    /// Days before start that the order was deactivated (DEACTIVATED orders, default 1).
    pub deactivated_days_ago: Option<i64>,
    /// Tracking data.
    #[serde(default)]
    pub tracking: UserTracking,
    /// Creator name; defaults to the first API user.
    pub creator_name: Option<String>,
    /// Decline reason (DECLINED orders only).
    pub decline_reason: Option<String>,
    /// A certificate issued elsewhere, reported with its own serial, dates and subject.
    pub certificate_pem: Option<String>,
    /// The chain of `certificatePem`, issuing CA first.
    #[serde(default)]
    pub chain_pem: Vec<String>,
}

fn default_true() -> bool {
    true
}

fn primary_client() -> i64 {
    1
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
}

/// Reports whether an order with this stored status has a certificate.
pub(crate) fn order_has_certificate(status: CertificateStatus) -> bool {
    matches!(
        status,
        CertificateStatus::Active
            | CertificateStatus::Ready
            | CertificateStatus::Revoked
            | CertificateStatus::Suspended
            | CertificateStatus::Deactivated
    )
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
