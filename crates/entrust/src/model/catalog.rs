//! The account's catalog: organizations, domains and products.

use time::OffsetDateTime;

use super::status::{DomainVerificationStatus, OrganizationVerificationStatus, VerificationMethod};

/// An organization that certificates may name in their subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Legal name, as verified by the CA.
    pub name: String,
    /// Sub-account (ECS client) the organization belongs to; 1 is the primary client. `None`
    /// when the CA did not report it.
    pub client_id: Option<u32>,
    /// Verification state; only approved organizations can be ordered for.
    pub verification_status: OrganizationVerificationStatus,
}

/// A domain registered with the account and its verification state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Domain name, lower-cased.
    pub name: String,
    /// Sub-account (ECS client) the domain belongs to. `None` when the CA did not report it.
    pub client_id: Option<u32>,
    /// Method used to verify control of the domain, when the CA reported it.
    pub verification_method: Option<VerificationMethod>,
    /// Verification state; see [`DomainVerificationStatus::is_usable`].
    pub verification_status: DomainVerificationStatus,
    /// Whether organization-validated certificates may name the domain, when reported.
    pub ov_eligible: Option<bool>,
    /// When the organization-validation of the domain expires, when reported.
    pub ov_expiry: Option<OffsetDateTime>,
    /// Whether extended-validation certificates may name the domain, when reported.
    pub ev_eligible: Option<bool>,
    /// When the extended-validation of the domain expires, when reported.
    pub ev_expiry: Option<OffsetDateTime>,
}

/// A product (certificate type) the account can order and its remaining inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The CA's product code, for example `STANDARD_SSL`, or `FLEX` for a pool usable by most
    /// TLS products.
    pub product_type: String,
    /// Units not used yet and not expired. `None` when the CA did not report a count.
    pub remaining: Option<u64>,
    /// Units consumed, excluding expired ones. `None` when the CA did not report a count.
    pub used: Option<u64>,
    /// Units ever added to the account. `None` when the CA did not report a count.
    pub total: Option<u64>,
    /// Whether the product is not limited by a count.
    pub unlimited: bool,
}

impl Product {
    /// Tells whether at least one more order of this product can be placed.
    pub fn is_available(&self) -> bool {
        self.unlimited || self.remaining.is_some_and(|remaining| remaining > 0)
    }
}
