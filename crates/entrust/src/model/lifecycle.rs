//! Changes to existing orders: approval decisions, reissue, renewal, revocation and tracking
//! data.

use time::Date;

use super::ids::TrackingId;
use super::order::{CertLifetime, ExtendedKeyUsage, IssuedCertificate, Requester};

/// The result of approving a pending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalOutcome {
    /// The certificate was generated at once (ECS: HTTP 201 with the certificate).
    Issued(IssuedCertificate),
    /// The order was approved and its certificate is generated later (ECS: HTTP 200). Poll
    /// the order.
    Approved {
        /// The approved order's tracking id.
        tracking_id: TrackingId,
    },
}

/// A request to reissue a certificate: same product and expiry, new certificate.
///
/// The CA revokes the certificate being reissued and gives the new one its own tracking id. A
/// reissue keeps the original expiry, so this type has no expiry field and none is ever sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reissue {
    /// A new PKCS#10 request in PEM; `None` reuses the original public key.
    pub csr_pem: Option<String>,
    /// DNS names for the new certificate; empty keeps the CA's choice (the CSR's names, or the
    /// original ones without a CSR).
    pub dns_names: Vec<String>,
    /// Sub-account (ECS client) of the order; `None` leaves it unchanged.
    pub client_id: Option<u32>,
    /// Organization name for the subject; `None` leaves it to the CA.
    pub organization: Option<String>,
    /// Extended key usage; `None` lets the CA apply its default.
    pub eku: Option<ExtendedKeyUsage>,
    /// Free text stored with the new order (at most 128 characters), as in
    /// [`NewOrder::tracking_marker`](super::NewOrder::tracking_marker): a unique marker lets a
    /// reissue whose outcome is unknown be found.
    pub tracking_marker: Option<String>,
    /// Person who requested the reissue; empty fields are not sent.
    pub requester: Requester,
}

/// A request to renew a certificate: a new certificate with a new expiry.
///
/// The CA refuses to renew a certificate issued less than 30 days ago. A renewal cannot be
/// validated without effect, so this type has no validate-only flag and none is ever sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewal {
    /// A new PKCS#10 request in PEM; `None` reuses the original public key.
    pub csr_pem: Option<String>,
    /// DNS names for the new certificate; empty keeps the CA's choice.
    pub dns_names: Vec<String>,
    /// Sub-account (ECS client) of the order; `None` leaves it unchanged.
    pub client_id: Option<u32>,
    /// Organization name for the subject; `None` leaves it to the CA.
    pub organization: Option<String>,
    /// Extended key usage; `None` lets the CA apply its default.
    pub eku: Option<ExtendedKeyUsage>,
    /// New expiry date, for accounts that sell by expiry date. Sent as a date, never a time.
    pub expires_on: Option<Date>,
    /// New lifetime, for accounts that sell by lifetime.
    pub lifetime: Option<CertLifetime>,
    /// Free text stored with the new order (at most 128 characters); see
    /// [`Reissue::tracking_marker`].
    pub tracking_marker: Option<String>,
    /// Person who requested the renewal; empty fields are not sent.
    pub requester: Requester,
}

/// The CRL reason of a revocation. ECS accepts only these two, so write any other reason in
/// [`Revocation::comment`] with [`RevocationReason::Unspecified`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevocationReason {
    /// No reason given (`unspecified`).
    #[default]
    Unspecified,
    /// The private key was disclosed or is suspected to be (`keyCompromise`).
    KeyCompromise,
}

impl RevocationReason {
    /// Returns the CRL reason as ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
        }
    }
}

/// A request to revoke a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocation {
    /// The CRL reason.
    pub reason: RevocationReason,
    /// Free-text explanation stored with the revocation; empty is not sent.
    pub comment: String,
}

/// Replacement tracking data of an order. The CA replaces all of it: a field left empty is
/// erased at the CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingUpdate {
    /// Free text stored with the order (at most 128 characters).
    pub tracking_marker: Option<String>,
    /// Person who requested the certificate.
    pub requester: Requester,
    /// Further addresses that receive the delivery and expiry notices.
    pub additional_emails: Vec<String>,
}

/// Maximum length of a decline reason that the CA accepts.
pub const DECLINE_REASON_MAX_LEN: usize = 254;
