//! The simulated account: users, clients, organizations, domains, inventory and orders.
//!
//! One `SimState` sits behind a mutex; every request reads or changes it while holding the lock,
//! so each call is atomic. Statuses that depend on time (EXPIRED) are derived from the clock at
//! read time and never stored.

mod inventory;
mod seed;

use std::collections::BTreeMap;

use time::OffsetDateTime;

pub use inventory::{Inventory, InventoryShortage};
pub(crate) use seed::seed_state;

use crate::cert_facts::{GeneralNameValue, KeyFacts};
use crate::error::ApiError;
use crate::model::{
    CertificateStatus, DomainStatus, UserTracking, VerificationMethod, VerificationStatus,
};
use crate::scenario::{AccountSettings, ApiUser};

/// A client of the account.
#[derive(Debug, Clone)]
pub struct Client {
    /// Client id; 1 is the primary client.
    pub client_id: i64,
    /// Client name.
    pub client_name: String,
    /// Verification status.
    pub verification_status: VerificationStatus,
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

/// A domain of a client.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Domain name, lower case.
    pub domain_name: String,
    /// The owning client.
    pub client_id: i64,
    /// Verification method.
    pub verification_method: VerificationMethod,
    /// Verification status.
    pub verification_status: DomainStatus,
    /// Whether OV certificates may use the domain.
    pub ov_eligible: bool,
    /// Expiry of the OV verification.
    pub ov_expiry: Option<OffsetDateTime>,
    /// Whether EV certificates may use the domain.
    pub ev_eligible: bool,
    /// Expiry of the EV verification.
    pub ev_expiry: Option<OffsetDateTime>,
}

/// The certificate an order holds.
#[derive(Debug, Clone)]
pub struct OrderCertificate {
    /// The end-entity certificate in PEM.
    pub pem: String,
    /// `chainCerts`: the end-entity certificate first, then its issuers.
    pub chain: Vec<String>,
    /// Serial number as upper-case hex without leading zeros.
    pub serial: String,
    /// `issueDateTime`: the start of validity.
    pub not_before: OffsetDateTime,
    /// `expiresAfter`: the end of validity.
    pub not_after: OffsetDateTime,
}

/// The CSR an order was placed with.
#[derive(Debug, Clone)]
pub struct OrderCsr {
    /// PEM text, as `csr` returns it.
    pub pem: String,
    /// The subject public key, as a DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
}

/// A certificate order (one tracking id).
#[derive(Debug, Clone)]
pub struct Order {
    /// Tracking id (int32 on the wire).
    pub tracking_id: i64,
    /// Stored status; see [`Order::status_at`] for the reported one.
    pub status: CertificateStatus,
    /// Certificate type.
    pub cert_type: String,
    /// The ordering client.
    pub client_id: i64,
    /// Subject DN in RFC 4514 order.
    pub dn: String,
    /// Subject common name.
    pub common_name: String,
    /// Subject `O`.
    pub org: Option<String>,
    /// Subject `OU` values.
    pub ou: Vec<String>,
    /// subjectAltName entries.
    pub subject_alt_names: Vec<GeneralNameValue>,
    /// Subject key.
    pub key: KeyFacts,
    /// `SHA-1` or `SHA-2`.
    pub signing_alg: String,
    /// Extended key usage as ECS writes it.
    pub eku: String,
    /// The CSR, when the order had one.
    pub csr: Option<OrderCsr>,
    /// The certificate, once issued.
    pub certificate: Option<OrderCertificate>,
    /// The expiry the order asked for; the certificate's `notAfter` once issued.
    pub requested_expiry: OffsetDateTime,
    /// Tracking data set by the requester.
    pub tracking: UserTracking,
    /// Deactivation time, if the order was deactivated.
    pub deactivated_on: Option<OffsetDateTime>,
    /// Creator name: the API user who placed the order.
    pub creator_name: String,
    /// Decline reason.
    pub decline_reason: Option<String>,
    /// The client domain that covers the common name.
    pub domain_used: Option<String>,
    /// The inventory product the order consumed, if any.
    pub consumed_product: Option<String>,
}

impl Order {
    /// Returns the status ECS reports at `now`: an ACTIVE or READY order past its expiry reads
    /// EXPIRED; every other status is reported as stored.
    pub fn status_at(&self, now: OffsetDateTime) -> CertificateStatus {
        let expired = self
            .certificate
            .as_ref()
            .is_some_and(|certificate| certificate.not_after < now);
        match self.status {
            CertificateStatus::Active | CertificateStatus::Ready if expired => {
                CertificateStatus::Expired
            }
            status => status,
        }
    }
}

/// The whole simulated account.
#[derive(Debug)]
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
    pub domains: Vec<Domain>,
    /// Products and their counts.
    pub inventory: Inventory,
    /// Orders by tracking id.
    pub orders: BTreeMap<i64, Order>,
    next_tracking_id: i64,
}

impl SimState {
    /// Returns the client with `client_id`.
    pub fn client(&self, client_id: i64) -> Option<&Client> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    /// Returns the order with `tracking_id`, or a 404 that names it.
    pub fn order(&self, tracking_id: i64) -> Result<&Order, ApiError> {
        self.orders
            .get(&tracking_id)
            .ok_or_else(|| unknown_tracking_id(tracking_id))
    }

    /// Returns the order with `tracking_id` for changing, or a 404 that names it.
    pub fn order_mut(&mut self, tracking_id: i64) -> Result<&mut Order, ApiError> {
        self.orders
            .get_mut(&tracking_id)
            .ok_or_else(|| unknown_tracking_id(tracking_id))
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
