//! Wire shapes of one domain: `DomainEx` (read) and `AddDomainRequest` /
//! `UpdateDomainRequest` (written).

use serde::{Deserialize, Serialize};

use super::account::DomainRecord;
use super::lenient::null_as_default;

/// Body of `GET /clients/{clientId}/domains/{domain}` (`DomainEx`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DomainDetailRecord {
    #[serde(flatten)]
    pub domain: DomainRecord,
    #[serde(default)]
    pub dns_method: Option<DnsMethodRecord>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_method: Vec<String>,
    #[serde(default)]
    pub web_server_method: Option<WebServerMethodRecord>,
}

/// `DomainEx.dnsMethod`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DnsMethodRecord {
    #[serde(default)]
    pub record_domain: Option<String>,
    #[serde(default)]
    pub record_type: Option<String>,
    #[serde(default)]
    pub record_value: Option<String>,
}

/// `DomainEx.webServerMethod`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebServerMethodRecord {
    #[serde(default)]
    pub file_location: Option<String>,
    #[serde(default)]
    pub file_contents: Option<String>,
}

/// Body of `POST /clients/{clientId}/domains` (with `domain_name`) and of
/// `PUT /clients/{clientId}/domains/{domain}` (without).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DomainRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<&'a str>,
    pub verification_method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_method: Option<EmailMethodRequest<'a>>,
}

/// `UpdateDomainRequest.emailMethod`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmailMethodRequest<'a> {
    /// `INCLUDE_WHOIS` or `SPECIFIED`.
    pub email_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}
