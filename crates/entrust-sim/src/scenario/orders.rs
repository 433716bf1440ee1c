//! Scenario entries for certificates: orders placed through ECS and third-party certificates
//! that the account has on record without having ordered them.

use serde::{Deserialize, Serialize};

use crate::model::{CertificateStatus, UserTracking};

/// Key algorithm of a certificate the simulator issues for a scenario order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeedKeyType {
    /// ECDSA P-256 (fast to generate).
    #[default]
    Ec,
    /// RSA 2048.
    Rsa,
}

impl SeedKeyType {
    fn is_default(&self) -> bool {
        *self == SeedKeyType::Ec
    }
}

/// An order that exists when the simulator starts.
///
/// An order whose status implies a certificate (ACTIVE, READY, REVOKED, SUSPENDED,
/// DEACTIVATED, REISSUED, RENEWED) either embeds one as `certificatePem`, reported with its own
/// serial and dates, or gets one from the simulator's CA. PENDING orders get a key and a CSR so
/// that approving them issues a certificate. EXPIRED is never stored: an order reads EXPIRED once
/// the clock passes its expiry.
///
/// The key, CSR and certificate of a generated order are made the first time a request needs
/// them (its PEM, its key or its thumbprint). The serial and dates are fixed at start, so lists
/// report them before that.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Subject common name; required unless `certificatePem` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// DNS names; the common name is added when missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_name: Vec<String>,
    /// Key algorithm of the generated key.
    #[serde(default, skip_serializing_if = "SeedKeyType::is_default")]
    pub key_type: SeedKeyType,
    /// Extended key usage; defaults to SERVER_AND_CLIENT_AUTH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eku: Option<String>,
    /// Days before start that the certificate was issued (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_days_ago: Option<i64>,
    /// Days from start until expiry (default 335; negative: already expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    /// Days before start that the order was deactivated (DEACTIVATED orders, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_days_ago: Option<i64>,
    /// Tracking data.
    #[serde(default)]
    pub tracking: UserTracking,
    /// Creator name; defaults to the first API user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_name: Option<String>,
    /// Decline reason (DECLINED orders only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    /// A certificate issued elsewhere, reported with its own serial, dates and subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    /// The chain of `certificatePem`, issuing CA first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain_pem: Vec<String>,
}

/// A certificate the account has on record but did not order through ECS (found by discovery, for
/// example). ECS lists it with trackingId 0, `isThirdParty: true` and a `uri` under
/// `/enterprise/v2/certificates/thumbprints/<SHA-1>`, and reports its status as UNKNOWN.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThirdPartyCertificate {
    /// The certificate in PEM.
    pub certificate_pem: String,
    /// Its issuers, issuing CA first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain_pem: Vec<String>,
    /// Tracking data attached to the record.
    #[serde(default)]
    pub tracking: UserTracking,
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
            | CertificateStatus::Reissued
            | CertificateStatus::Renewed
    )
}

fn primary_client() -> i64 {
    1
}
