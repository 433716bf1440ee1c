//! Orders: what is sent to place one, what comes back, and how orders are listed.

use time::{Date, OffsetDateTime};

use super::filter::OrderFilter;
use super::ids::{SerialNumber, TrackingId};
use super::status::OrderStatus;

/// Person who requested a certificate. The CA stores it with the order and mails notices to it.
///
/// Empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Phone number.
    pub phone: String,
}

/// Certificate lifetime for accounts that sell by lifetime rather than by expiry date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertLifetime {
    /// One year (`P1Y`).
    OneYear,
    /// Two years (`P2Y`).
    TwoYears,
    /// Three years (`P3Y`).
    ThreeYears,
}

impl CertLifetime {
    /// Returns the ISO 8601 duration the CA expects.
    pub fn as_iso8601(self) -> &'static str {
        match self {
            Self::OneYear => "P1Y",
            Self::TwoYears => "P2Y",
            Self::ThreeYears => "P3Y",
        }
    }
}

/// Extended key usage requested for a public TLS certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendedKeyUsage {
    /// TLS server authentication only.
    ServerAuth,
    /// TLS client authentication only.
    ClientAuth,
    /// Both; the CA's default.
    ServerAndClientAuth,
}

impl ExtendedKeyUsage {
    /// Returns the ECS wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerAuth => "SERVER_AUTH",
            Self::ClientAuth => "CLIENT_AUTH",
            Self::ServerAndClientAuth => "SERVER_AND_CLIENT_AUTH",
        }
    }
}

/// A new certificate order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Product code, for example `STANDARD_SSL`.
    pub product: String,
    /// PKCS#10 request in PEM; the CA uses its public key.
    pub csr_pem: String,
    /// DNS names for the certificate. When empty, the CA takes the names from the CSR.
    pub dns_names: Vec<String>,
    /// Sub-account (ECS client) to order under; `None` lets the CA use the primary client (1).
    pub client_id: Option<u32>,
    /// Organization name for the subject; `None` lets the CA use the client's organization.
    pub organization: Option<String>,
    /// Expiry date (a date without time, as pooling accounts require).
    pub expires_on: Date,
    /// Lifetime for accounts that sell by lifetime; sent beside `expires_on` when set.
    pub lifetime: Option<CertLifetime>,
    /// Extended key usage; `None` lets the CA apply its default.
    pub eku: Option<ExtendedKeyUsage>,
    /// Free text stored with the order (at most 128 characters) and searchable later; Certitude
    /// puts a unique marker here so an order whose submission outcome is unknown can be found.
    pub tracking_marker: Option<String>,
    /// Person who requested the certificate.
    pub requester: Requester,
    /// Queue the order for an administrator's approval instead of issuing at once.
    pub queue_for_approval: bool,
    /// Only check the order; nothing is issued and no inventory is used.
    pub validate_only: bool,
}

/// Maximum length of [`NewOrder::tracking_marker`] that the CA accepts.
pub const TRACKING_MARKER_MAX_LEN: usize = 128;

/// A certificate the CA issued, with its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The order's tracking id.
    pub tracking_id: TrackingId,
    /// The end-entity certificate in PEM.
    pub certificate_pem: String,
    /// The chain in PEM, leaf first: element 0 is `certificate_pem`, each following element
    /// issued the one before it where the issuer could be matched. A root is included only when
    /// the CA sent it.
    pub chain_pem: Vec<String>,
    /// Serial number, when the CA reported it.
    pub serial_number: Option<SerialNumber>,
    /// End of validity, when the CA reported it.
    pub expires_at: Option<OffsetDateTime>,
}

/// The result of placing an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    /// The certificate was issued at once (HTTP 201).
    Issued(IssuedCertificate),
    /// The order was accepted but carries no certificate yet: it waits for approval (HTTP 202),
    /// or it was generated for later pickup (HTTP 201 without a certificate). Poll the order.
    Pending {
        /// The order's tracking id.
        tracking_id: TrackingId,
    },
    /// The order passed validation; nothing was issued (HTTP 200 for a validate-only order).
    Validated,
}

/// An order as it appears in a list.
///
/// Which fields are filled depends on [`OrderQuery::fields`]; with [`FieldSelection::All`]
/// everything the CA stores for the listing is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    /// Tracking id; 0 for certificates not ordered through the CA.
    pub tracking_id: TrackingId,
    /// Current state.
    pub status: OrderStatus,
    /// Serial number of the certificate, once generated.
    pub serial_number: Option<SerialNumber>,
    /// Subject distinguished name.
    pub subject_dn: Option<String>,
    /// DNS names among the subject alternative names.
    pub dns_names: Vec<String>,
    /// End of validity.
    pub expires_at: Option<OffsetDateTime>,
    /// When the certificate was issued.
    pub issued_at: Option<OffsetDateTime>,
    /// Product code.
    pub product: Option<String>,
    /// Organization in the subject.
    pub organization: Option<String>,
    /// Free-text tracking info stored with the order.
    pub tracking_marker: Option<String>,
    /// Requester stored with the order, when any of its fields is present.
    pub requester: Option<Requester>,
    /// Key algorithm (`RSA`, `EC`, `OTHER`).
    pub key_type: Option<String>,
    /// Key size in bits.
    pub key_size: Option<u32>,
    /// Extended key usage wire value.
    pub eku: Option<String>,
    /// Whether the certificate was issued by another CA and only recorded by this account.
    pub third_party: bool,
}

/// One order with its certificate and chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetail {
    /// Tracking id; 0 for certificates not ordered through the CA.
    pub tracking_id: TrackingId,
    /// Current state.
    pub status: OrderStatus,
    /// Serial number of the certificate, once generated.
    pub serial_number: Option<SerialNumber>,
    /// Subject distinguished name.
    pub subject_dn: Option<String>,
    /// DNS names among the subject alternative names.
    pub dns_names: Vec<String>,
    /// End of validity.
    pub expires_at: Option<OffsetDateTime>,
    /// When the certificate was issued.
    pub issued_at: Option<OffsetDateTime>,
    /// The end-entity certificate in PEM, once generated.
    pub certificate_pem: Option<String>,
    /// The chain in PEM, leaf first as in [`IssuedCertificate::chain_pem`]; empty without a
    /// certificate.
    pub chain_pem: Vec<String>,
    /// The order's CSR in PEM.
    pub csr_pem: Option<String>,
    /// Product code.
    pub product: Option<String>,
    /// Organization in the subject.
    pub organization: Option<String>,
    /// Free-text tracking info stored with the order.
    pub tracking_marker: Option<String>,
    /// Requester stored with the order, when any of its fields is present.
    pub requester: Option<Requester>,
    /// Creator of the order (for API orders, the authenticated user).
    pub creator: Option<String>,
    /// Reason an administrator gave for declining the order.
    pub decline_reason: Option<String>,
    /// Whether the order was deactivated.
    pub deactivated: bool,
    /// When the order was deactivated.
    pub deactivated_at: Option<OffsetDateTime>,
    /// Key algorithm (`RSA`, `EC`, `OTHER`).
    pub key_type: Option<String>,
    /// Key size in bits.
    pub key_size: Option<u32>,
    /// Extended key usage wire value.
    pub eku: Option<String>,
    /// Whether the certificate was issued by another CA and only recorded by this account.
    pub third_party: bool,
}

/// Selection of the fields a listing returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FieldSelection {
    /// Every field the CA stores for the listing (`fields=*`).
    #[default]
    All,
    /// The CA's default set (for ECS: tracking id, DN, serial, expiry, signing algorithm, EKU,
    /// status).
    CaDefault,
    /// Exactly these wire field names.
    Only(Vec<String>),
}

/// Filters, field selection and paging for listing orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    /// Only orders in one of these states; empty for all.
    pub statuses: Vec<OrderStatus>,
    /// Only orders whose tracking info equals this text.
    pub tracking_marker: Option<String>,
    /// Only the certificate with this serial number.
    pub serial_number: Option<SerialNumber>,
    /// Further filters, all of which must match.
    pub filters: Vec<OrderFilter>,
    /// Fields to return.
    pub fields: FieldSelection,
    /// Sort order as `field:asc` or `field:desc`. Sorting by tracking id ascending keeps
    /// offsets stable while new orders arrive during a walk, because they sort last.
    pub sort: Option<String>,
    /// Items per request, 1 to 1000.
    pub page_size: u32,
}

/// Largest page the ECS API serves.
pub const MAX_PAGE_SIZE: u32 = 1000;

impl Default for OrderQuery {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            tracking_marker: None,
            serial_number: None,
            filters: Vec::new(),
            fields: FieldSelection::All,
            sort: Some("trackingId:asc".to_owned()),
            page_size: 500,
        }
    }
}

/// One page of orders with the paging facts the CA reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders on this page.
    pub orders: Vec<OrderSummary>,
    /// Index of the first order on this page.
    pub offset: u64,
    /// Number of orders matching the query across all pages, when reported.
    pub total: Option<u64>,
}
