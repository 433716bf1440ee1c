//! Wire shapes of the account resources: version, organizations, domains and inventory.

use serde::Deserialize;

use super::certificates::Summary;
use super::lenient::{null_as_default, optional_bool, optional_u32, optional_u64};

/// Body of `GET /application/version`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct VersionResponse {
    #[serde(default)]
    pub version: Option<String>,
}

/// Body of `GET /organizations`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OrganizationList {
    #[serde(default, deserialize_with = "null_as_default")]
    pub organizations: Vec<OrganizationRecord>,
}

/// One organization.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrganizationRecord {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub verification_status: Option<String>,
    #[serde(default, deserialize_with = "optional_u32")]
    pub client_id: Option<u32>,
}

/// Body of `GET /domains` and `GET /clients/{clientId}/domains`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DomainList {
    #[serde(default)]
    pub summary: Option<Summary>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub domains: Vec<DomainRecord>,
}

/// One domain. The definition names the status `status`, while ECS and its own clients use
/// `verificationStatus`; both are read, `verificationStatus` first.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DomainRecord {
    #[serde(default)]
    pub domain_name: Option<String>,
    #[serde(default)]
    pub verification_method: Option<String>,
    #[serde(default)]
    pub verification_status: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "optional_bool")]
    pub ov_eligible: Option<bool>,
    #[serde(default)]
    pub ov_expiry: Option<String>,
    #[serde(default, deserialize_with = "optional_bool")]
    pub ev_eligible: Option<bool>,
    #[serde(default)]
    pub ev_expiry: Option<String>,
    #[serde(default, deserialize_with = "optional_u32")]
    pub client_id: Option<u32>,
}

/// Body of `GET /inventories`. The definition's example wraps the list as `inventory`, while
/// production clients read `inventories`; either is accepted, and so is a bare array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum InventoryResponse {
    Wrapped {
        #[serde(default)]
        inventories: Option<Vec<InventoryItem>>,
        #[serde(default)]
        inventory: Option<Vec<InventoryItem>>,
    },
    Bare(Vec<InventoryItem>),
}

impl InventoryResponse {
    /// Returns the items under whichever key carried them.
    pub fn into_items(self) -> Vec<InventoryItem> {
        match self {
            Self::Wrapped {
                inventories,
                inventory,
            } => inventories.or(inventory).unwrap_or_default(),
            Self::Bare(items) => items,
        }
    }
}

/// One product's inventory. `consumptionType` is present only for `UNLIMITED` products.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryItem {
    #[serde(default)]
    pub product_type: Option<String>,
    #[serde(default)]
    pub consumption_type: Option<String>,
    #[serde(default, deserialize_with = "optional_u64")]
    pub total_count: Option<u64>,
    #[serde(default, deserialize_with = "optional_u64")]
    pub remaining_count: Option<u64>,
    #[serde(default, deserialize_with = "optional_u64")]
    pub used_count: Option<u64>,
}
