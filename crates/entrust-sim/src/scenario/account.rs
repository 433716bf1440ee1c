//! Scenario entries that describe the account: settings, API users, clients, organizations,
//! domains and inventory.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::{DomainStatus, Permission, Role, VerificationMethod, VerificationStatus};

/// Account-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Requests each API user may send per 30-second window before getting 429; absent means
    /// no limit. The window is measured on the simulator's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_quota: Option<u32>,
    /// Also accepts the `crlReason` values of the 2.1.0 specification (`affiliationChanged`,
    /// `superseded`, `cessationOfOperation`) and RFC 5280 integer reason codes. Without it only
    /// `unspecified` and `keyCompromise` are accepted, as later ECS versions do.
    #[serde(default)]
    pub legacy_crl_reasons: bool,
    /// Seconds after a domain is added or re-verified until its new DNS, web-server and email
    /// verification values appear in `GET /clients/{clientId}/domains/{domain}`, measured on
    /// the simulator's clock (ECS takes about 5 seconds).
    #[serde(default = "default_domain_values_delay")]
    pub domain_values_delay_seconds: u32,
    /// Rejects, with a 403, a PATCH `APPROVE` by the API user who placed the order.
    #[serde(default)]
    pub forbid_self_approval: bool,
}

/// An API user of the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiUser {
    /// The Basic-auth user name.
    pub user_name: String,
    /// The Basic-auth password; redacted in `Debug`.
    #[serde(serialize_with = "serialize_api_key")]
    pub api_key: SecretString,
    /// The user's role, which sets its default permissions.
    pub role: Role,
    /// Permissions that replace the role's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
    /// A client certificate (PEM) bound to the user: its requests must present this
    /// certificate over TLS, in addition to Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_pem: Option<String>,
    /// Binds a client certificate that the simulator's CA issues at start; tests fetch it and
    /// its key from the control API or `RunningSimulator::client_identity`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate_client_certificate: bool,
}

impl ApiUser {
    /// Returns the permissions the user holds.
    pub fn effective_permissions(&self) -> Vec<Permission> {
        match &self.permissions {
            Some(permissions) => permissions.clone(),
            None => self.role.default_permissions().to_vec(),
        }
    }
}

fn serialize_api_key<S: Serializer>(key: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(key.expose_secret())
}

/// A postal address of a client (`Address`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientAddress {
    /// ISO 3166 two-letter country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// State or province.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_province: Option<String>,
    /// First street line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street1: Option<String>,
    /// Second street line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ZIP or postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip_or_postal_code: Option<String>,
}

/// The person who confirms requests for a client (`AuthorizationContact`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationContact {
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
}

/// A client (a subsidiary of the account with its own organizations and domains).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioClient {
    /// Client id; 1 is the primary client.
    pub client_id: i64,
    /// Client name.
    pub client_name: String,
    /// Verification status of the client; orders need APPROVED.
    pub verification_status: VerificationStatus,
    /// A label for the client that certificates do not show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_client_name: Option<String>,
    /// Days from start until the OV information expires; reported as `ovExpiryDate` while the
    /// client is APPROVED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ov_expires_in_days: Option<i64>,
    /// EV verification status; absent when no EV information was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev_verification_status: Option<VerificationStatus>,
    /// Days from start until the EV information expires (`evExpiryDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev_expires_in_days: Option<i64>,
    /// Postal address, shown by `GET /clients/{clientId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<ClientAddress>,
    /// Authorization contact, shown by `GET /clients/{clientId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_contact: Option<AuthorizationContact>,
}

/// An organization a certificate may name in its `O` attribute.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ov_expires_in_days: Option<i64>,
    /// Whether EV certificates may use the domain.
    #[serde(default)]
    pub ev_eligible: bool,
    /// Days from start until the EV verification expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev_expires_in_days: Option<i64>,
}

/// A product of the account inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioInventoryItem {
    /// A certificate type, or `FLEX` for the pool every SSL type except `PD_SSL` may use.
    pub product_type: String,
    /// `UNLIMITED` for a product without counts; absent for counted products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

fn default_true() -> bool {
    true
}

fn default_domain_values_delay() -> u32 {
    5
}
