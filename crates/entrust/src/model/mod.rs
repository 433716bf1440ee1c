//! CA-neutral domain types: what Certitude's services work with, whichever CA is behind them.
//!
//! Nothing here mirrors a wire format; the adapter converts its wire types into these.

mod account;
mod catalog;
mod filter;
mod ids;
mod lifecycle;
mod order;
mod status;

pub use account::{
    AccountClient, AccountClientDetail, DnsVerification, DomainDetail, DomainRequestAccepted,
    DomainVerificationRequest, EmailSource, NewDomain, PostalAddress, WebServerVerification,
};
pub use catalog::{Domain, Organization, Product};
pub use filter::{Comparison, OrderFilter, TextMatch};
pub use ids::{SerialNumber, TrackingId};
pub use lifecycle::{
    ApprovalOutcome, DECLINE_REASON_MAX_LEN, Reissue, Renewal, Revocation, RevocationReason,
    TrackingUpdate,
};
pub use order::{
    CertLifetime, ExtendedKeyUsage, FieldSelection, IssuedCertificate, MAX_PAGE_SIZE, NewOrder,
    OrderDetail, OrderOutcome, OrderPage, OrderQuery, OrderSummary, Requester,
    TRACKING_MARKER_MAX_LEN,
};
pub use status::{
    DomainVerificationStatus, OrderStatus, OrganizationVerificationStatus, VerificationMethod,
};
