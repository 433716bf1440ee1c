//! The simulated account: users, clients, organizations, domains, inventory and orders.
//!
//! One `SimState` sits behind a mutex; every request reads or changes it while holding the lock,
//! so each call is atomic. Statuses that depend on time (EXPIRED) are derived from the clock at
//! read time and never stored.

mod domain;
mod inventory;
mod order;
mod seed;
mod seed_order;

use std::collections::BTreeMap;
use std::sync::Arc;

use time::OffsetDateTime;

pub use domain::{CONSTRUCTED_MAILBOXES, Challenge, Domain, Domains};
pub use inventory::{Inventory, InventoryShortage};
pub use order::{
    CertificateEncoding, EncodedCertificate, KeyMaterial, Order, OrderCertificate, OrderCsr,
    Revocation,
};
pub(crate) use seed::{constructed_addresses, seed_state, whole_seconds};

use crate::error::ApiError;
use crate::model::VerificationStatus;
use crate::scenario::{AccountSettings, ApiUser, AuthorizationContact, ClientAddress};

/// A client of the account.
#[derive(Debug, Clone)]
pub struct Client {
    /// Client id; 1 is the primary client.
    pub client_id: i64,
    /// Client name.
    pub client_name: String,
    /// Verification status.
    pub verification_status: VerificationStatus,
    /// A label that certificates do not show.
    pub friendly_client_name: Option<String>,
    /// Expiry of the OV information.
    pub ov_expiry: Option<OffsetDateTime>,
    /// EV verification status, when EV information was submitted.
    pub ev_verification_status: Option<VerificationStatus>,
    /// Expiry of the EV information.
    pub ev_expiry: Option<OffsetDateTime>,
    /// Postal address.
    pub address: Option<ClientAddress>,
    /// Authorization contact.
    pub auth_contact: Option<AuthorizationContact>,
}

/// An organization of a client.
#[derive(Debug, Clone)]
pub struct Organization {
    /// Organization name.
    pub name: String,
    /// Verification status.
    pub verification_status: VerificationStatus,
    /// The owning client.
    pub client_id: i64,
}

/// The whole simulated account.
#[derive(Debug, Clone)]
pub struct SimState {
    /// Account-wide settings.
    pub account: AccountSettings,
    /// API users.
    pub users: Vec<ApiUser>,
    /// Clients.
    pub clients: Vec<Client>,
    /// Organizations across clients.
    pub organizations: Vec<Organization>,
    /// Domains across clients.
    pub domains: Domains,
    /// Products and their counts.
    pub inventory: Inventory,
    /// Orders by tracking id. Each sits behind an `Arc` so that the copy of the starting state
    /// kept for a reset shares every order until it changes.
    orders: BTreeMap<i64, Arc<Order>>,
    /// Third-party certificates (trackingId 0), in scenario order.
    pub third_party: Vec<Order>,
    next_tracking_id: i64,
}

impl SimState {
    /// Returns the client with `client_id`.
    pub fn client(&self, client_id: i64) -> Option<&Client> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    /// Returns the client with `client_id`, or a 404 that names it.
    pub fn known_client(&self, client_id: i64) -> Result<&Client, ApiError> {
        self.client(client_id)
            .ok_or_else(|| ApiError::NotFound(format!("Client {client_id} was not found.")))
    }

    /// Returns the order with `tracking_id`, or a 404 that names it.
    pub fn order(&self, tracking_id: i64) -> Result<&Order, ApiError> {
        self.orders
            .get(&tracking_id)
            .map(AsRef::as_ref)
            .ok_or_else(|| unknown_tracking_id(tracking_id))
    }

    /// Returns the order with `tracking_id` for changing, or a 404 that names it.
    pub fn order_mut(&mut self, tracking_id: i64) -> Result<&mut Order, ApiError> {
        self.orders
            .get_mut(&tracking_id)
            .map(Arc::make_mut)
            .ok_or_else(|| unknown_tracking_id(tracking_id))
    }

    /// Stores `order` under its tracking id.
    pub fn insert_order(&mut self, order: Order) {
        self.orders.insert(order.tracking_id, Arc::new(order));
    }

    /// Returns every record: orders by tracking id, then third-party certificates.
    pub fn records(&self) -> impl Iterator<Item = &Order> {
        self.orders
            .values()
            .map(AsRef::as_ref)
            .chain(self.third_party.iter())
    }

    /// Finds the record whose certificate has SHA-1 thumbprint `thumbprint` (upper-case hex).
    /// Certificates not signed yet have no thumbprint, and no client can know one for them.
    pub fn find_by_thumbprint(&self, thumbprint: &str) -> Option<&Order> {
        self.records().find(|order| {
            order
                .certificate
                .as_ref()
                .and_then(OrderCertificate::encoded)
                .is_some_and(|encoded| encoded.thumbprint == thumbprint)
        })
    }

    /// Takes the next tracking id. Ids grow by one and are never reused; they stay within int32
    /// because that is their type on the wire.
    pub fn take_tracking_id(&mut self) -> Result<i64, ApiError> {
        let id = self.next_tracking_id;
        if id > i64::from(i32::MAX) {
            return Err(ApiError::invalid_request(
                "The account has used every tracking id (int32); start a new simulator.",
            ));
        }
        self.next_tracking_id += 1;
        Ok(id)
    }
}

fn unknown_tracking_id(tracking_id: i64) -> ApiError {
    ApiError::NotFound(format!(
        "Certificate with trackingId {tracking_id} was not found."
    ))
}
