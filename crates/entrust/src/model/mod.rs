//! CA-neutral domain types: what Certitude's services work with, whichever CA is behind them.
//!
//! Nothing here mirrors a wire format; the adapter converts its wire types into these.

mod catalog;
mod ids;
mod order;
mod status;

pub use catalog::{Domain, Organization, Product};
pub use ids::{SerialNumber, TrackingId};
pub use order::{
    CertLifetime, ExtendedKeyUsage, FieldSelection, IssuedCertificate, MAX_PAGE_SIZE, NewOrder,
    OrderDetail, OrderOutcome, OrderPage, OrderQuery, OrderSummary, Requester,
    TRACKING_MARKER_MAX_LEN,
};
pub use status::{
    DomainVerificationStatus, OrderStatus, OrganizationVerificationStatus, VerificationMethod,
};
