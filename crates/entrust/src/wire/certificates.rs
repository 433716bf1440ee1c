//! Wire shapes of the `/certificates` resource.
//!
//! Field names follow the ECS Enterprise API 2.1.0 definitions `NewCertificateRequest`,
//! `CertificateResponse`, `CertificateBase`, `CertificateEx`, `TrackingData` and `Summary`.

use serde::{Deserialize, Serialize};

use super::lenient::{null_as_default, optional_bool, optional_u32, optional_u64};

/// Body of `POST /certificates`. Only request fields are written, never read-only ones such as
/// `tracking.deactivated`, and absent values are omitted rather than sent as `null` or `""`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewCertificateRequest<'a> {
    pub cert_type: &'a str,
    pub csr: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub subject_alt_name: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<&'a str>,
    /// `YYYY-MM-DD`: ECS moves a time part to US Eastern time, which can shift the day.
    pub cert_expiry_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_lifetime: Option<&'static str>,
    pub signing_alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eku: Option<&'static str>,
    pub queue_for_approval: bool,
    pub validate_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingRequest<'a>>,
}

/// The user-specifiable part of `tracking` (`UserSpecifiableTrackingData`): the whole body of
/// `PUT /certificates/{trackingId}/tracking`, and `tracking` in order requests. The read-only
/// `deactivated` and `deactivatedOn` are never written.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrackingRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_phone: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub additional_emails: &'a [String],
}

impl TrackingRequest<'_> {
    /// Tells whether no field would be written.
    pub fn is_empty(&self) -> bool {
        self.tracking_info.is_none()
            && self.requester_name.is_none()
            && self.requester_email.is_none()
            && self.requester_phone.is_none()
            && self.additional_emails.is_empty()
    }
}

/// Body of a 201 (certificate generated) or 202 (`{trackingId}` only) response.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateResponse {
    #[serde(default, deserialize_with = "optional_u32")]
    pub tracking_id: Option<u32>,
    #[serde(default)]
    pub end_entity_cert: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub chain_certs: Vec<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub expires_after: Option<String>,
}

/// Body of `GET /certificates`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateList {
    #[serde(default)]
    pub summary: Option<Summary>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub certificates: Vec<CertificateRecord>,
}

/// Paging facts of a list response.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    #[serde(default, deserialize_with = "optional_u64")]
    pub offset: Option<u64>,
    #[serde(default, deserialize_with = "optional_u64")]
    pub total: Option<u64>,
}

/// A certificate record, as listed (`Certificate`) or fetched one by one (`CertificateEx`).
/// Every field is optional because `fields=` selects which ones a list returns.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateRecord {
    #[serde(default, deserialize_with = "optional_u32")]
    pub tracking_id: Option<u32>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub dn: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subject_alt_name: Vec<GeneralName>,
    #[serde(default)]
    pub issue_date_time: Option<String>,
    #[serde(default)]
    pub expires_after: Option<String>,
    #[serde(default)]
    pub eku: Option<String>,
    #[serde(default, deserialize_with = "optional_u32")]
    pub key_size: Option<u32>,
    #[serde(default)]
    pub key_type: Option<String>,
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub cert_type: Option<String>,
    #[serde(default)]
    pub tracking: Option<TrackingData>,
    #[serde(default, deserialize_with = "optional_bool")]
    pub is_third_party: Option<bool>,
    #[serde(default)]
    pub end_entity_cert: Option<String>,
    #[serde(default)]
    pub csr: Option<String>,
    #[serde(default)]
    pub creator_name: Option<String>,
    #[serde(default)]
    pub decline_reason: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub chain_certs: Vec<String>,
}

/// A subject alternative name: `{type, value}` per the definition. A bare string is accepted
/// too and read as a DNS name, in case a response simplifies the shape.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum GeneralName {
    Typed {
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        value: Option<String>,
    },
    Plain(String),
}

impl GeneralName {
    /// Returns the name when it is a DNS name; a bare string counts as one.
    pub fn dns_name(&self) -> Option<&str> {
        match self {
            Self::Typed {
                kind: Some(kind),
                value: Some(value),
            } if kind.eq_ignore_ascii_case("dNSName") || kind.eq_ignore_ascii_case("dns") => {
                Some(value)
            }
            Self::Typed { .. } => None,
            Self::Plain(value) => Some(value),
        }
    }
}

/// Tracking data of a certificate record.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrackingData {
    #[serde(default)]
    pub tracking_info: Option<String>,
    #[serde(default)]
    pub requester_name: Option<String>,
    #[serde(default)]
    pub requester_email: Option<String>,
    #[serde(default)]
    pub requester_phone: Option<String>,
    #[serde(default, deserialize_with = "optional_bool")]
    pub deactivated: Option<bool>,
    #[serde(default)]
    pub deactivated_on: Option<String>,
}
