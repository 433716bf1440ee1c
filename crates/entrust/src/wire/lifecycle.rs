//! Wire shapes of the calls that change an existing order: `PATCH /certificates/{trackingId}`,
//! reissues, renewals and revocations.
//!
//! Field names follow the ECS Enterprise API 2.1.0 definitions `CertificatePatchRequest`,
//! `ReissueCertificateRequest`, `RenewCertificateRequest` and `RevokeCertificateRequest`.
//! Absent values are omitted, never sent as `null` or `""`.

use serde::Serialize;

use super::certificates::TrackingRequest;

/// Body of `PATCH /certificates/{trackingId}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificatePatchRequest<'a> {
    /// `APPROVE`, `DECLINE`, `SUSPEND` or `UNSUSPEND`.
    pub operation: &'static str,
    /// Only with `DECLINE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<&'a str>,
}

/// Body of `POST /certificates/{trackingId}/reissues`. A reissue keeps the original expiry, so
/// the type has no expiry field. It has no `certType`, `validateOnly` or `queueForApproval`
/// either, because the definition leaves them out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReissueCertificateRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub subject_alt_name: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<&'a str>,
    pub signing_alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eku: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingRequest<'a>>,
}

/// Body of `POST /certificates/{trackingId}/renewals`: the reissue fields plus the expiry.
/// ECS rejects `validateOnly` on renewals, so the type has no such field.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RenewCertificateRequest<'a> {
    #[serde(flatten)]
    pub reissue: ReissueCertificateRequest<'a>,
    /// `YYYY-MM-DD`: ECS moves a time part to US Eastern time, which can shift the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_expiry_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_lifetime: Option<&'static str>,
}

/// Body of `POST /certificates/{trackingId}/revocations`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RevokeCertificateRequest<'a> {
    /// `unspecified` or `keyCompromise`, the two reasons ECS accepts.
    pub crl_reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_comment: Option<&'a str>,
}
