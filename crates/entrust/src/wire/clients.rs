//! Wire shapes of `/clients`: `Client`, `ClientEx`, `Address` and the organization list of one
//! client.

use serde::Deserialize;

use super::account::OrganizationRecord;
use super::lenient::{null_as_default, optional_u32};

/// Body of `GET /clients`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ClientList {
    #[serde(default, deserialize_with = "null_as_default")]
    pub clients: Vec<ClientRecord>,
}

/// One client (`Client`, and the base fields of `ClientEx`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientRecord {
    #[serde(default, deserialize_with = "optional_u32")]
    pub client_id: Option<u32>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub friendly_client_name: Option<String>,
    #[serde(default)]
    pub verification_status: Option<String>,
    #[serde(default)]
    pub ov_expiry_date: Option<String>,
    #[serde(default)]
    pub ev_verification_status: Option<String>,
    #[serde(default)]
    pub ev_expiry_date: Option<String>,
}

/// Body of `GET /clients/{clientId}` (`ClientEx`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientDetailRecord {
    #[serde(flatten)]
    pub client: ClientRecord,
    #[serde(default)]
    pub address: Option<AddressRecord>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub organizations: Vec<OrganizationRecord>,
}

/// `Address`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddressRecord {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub state_or_province: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub street1: Option<String>,
    #[serde(default)]
    pub street2: Option<String>,
    #[serde(default)]
    pub zip_or_postal_code: Option<String>,
}
