//! Certificate order lifecycle: new orders, the PATCH operations (approve, decline, suspend,
//! unsuspend), reissue, renewal, revocation, deactivation and tracking updates, and the signing
//! of certificates they share.

mod approve;
mod checks;
mod expiry;
mod materialize;
mod new_order;
mod reissue;
mod renew;
mod request;
mod revoke;
mod subject;
mod successor;
mod transitions;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use approve::approve_order;
pub use materialize::{KeyPool, materialize};
pub use new_order::{PlaceOutcome, place_new_order};
pub use reissue::reissue_order;
pub use renew::renew_order;
pub use request::read_tracking_body;
pub use revoke::{CrlReason, read_revocation, revoke_order};
pub use transitions::{PatchOperation, deactivate_order, decline_order, patch_order};

use crate::ca::{IssuedCertificate, LeafRequest, TestCa};
use crate::error::ApiError;
use crate::format::timestamp;
use crate::model::{CertificateStatus, Eku};
use crate::state::{CertificateEncoding, EncodedCertificate, Order, OrderCertificate};

/// The CertificateResponse body of a 201 (new order, approval, reissue and renewal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateResponse {
    /// Tracking id of the order.
    pub tracking_id: i64,
    /// The end-entity certificate in PEM.
    pub end_entity_cert: String,
    /// The end-entity certificate, then the issuing CA (and the root when configured), in PEM.
    pub chain_certs: Vec<String>,
    /// Serial number, upper-case hex without leading zeros.
    pub serial_number: String,
    /// End of validity, `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires_after: String,
}

impl CertificateResponse {
    /// Builds the response for an order whose certificate is signed.
    pub fn for_order(order: &Order) -> Option<CertificateResponse> {
        let certificate = order.certificate.as_ref()?;
        let encoded = certificate.encoded()?;
        Some(CertificateResponse {
            tracking_id: order.tracking_id,
            end_entity_cert: encoded.pem.clone(),
            chain_certs: encoded.chain.clone(),
            serial_number: certificate.serial.clone(),
            expires_after: timestamp(certificate.not_after),
        })
    }

    /// Builds the response for an order whose certificate was just signed.
    fn for_issued(order: &Order) -> Result<CertificateResponse, ApiError> {
        CertificateResponse::for_order(order).ok_or_else(|| {
            ApiError::invalid_request(format!(
                "Certificate {} has no signed certificate to return.",
                order.tracking_id
            ))
        })
    }
}

/// The inputs of signing besides the account state: the CA, the keys of scenario orders and
/// the time.
#[derive(Debug, Clone, Copy)]
pub struct IssueContext<'a> {
    /// The test CA.
    pub ca: &'a TestCa,
    /// Keys for scenario orders.
    pub keys: &'a KeyPool,
    /// The simulator's clock reading for this request.
    pub now: OffsetDateTime,
}

/// Issues a new certificate for `order` from its public key: valid from `now` until the order's
/// requested expiry, with a new serial and the order's subject and DNS names. Sets the
/// certificate and status ACTIVE.
pub(crate) fn issue_certificate(
    order: &mut Order,
    context: &IssueContext<'_>,
    include_root: bool,
) -> Result<CertificateResponse, ApiError> {
    if order.requested_expiry <= context.now {
        return Err(ApiError::invalid_request(format!(
            "Certificate {} asked to expire at {}, which has passed; it can no longer be issued.",
            order.tracking_id,
            timestamp(order.requested_expiry)
        )));
    }
    let issued = sign(order, context.ca, None, context.now, order.requested_expiry)?;
    order.certificate = Some(certificate_of(issued, context.ca, include_root));
    order.status = CertificateStatus::Active;
    CertificateResponse::for_issued(order)
}

/// Signs a leaf for `order`'s public key and subject with the given serial and validity.
fn sign(
    order: &Order,
    ca: &TestCa,
    serial: Option<Vec<u8>>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<IssuedCertificate, ApiError> {
    let spki_der = order.public_key().ok_or_else(|| {
        ApiError::invalid_request(format!(
            "Certificate {} has no key to issue from.",
            order.tracking_id
        ))
    })?;
    let dns_names = order
        .subject_alt_names
        .iter()
        .filter(|name| name.kind == "dNSName")
        .map(|name| name.value.clone())
        .collect();
    ca.issue(&LeafRequest {
        spki_der: spki_der.to_vec(),
        key_type: order.key.key_type,
        common_name: order.common_name.clone(),
        organizational_units: order.ou.clone(),
        organization: order.org.clone(),
        dns_names,
        ip_addresses: Vec::new(),
        serial,
        not_before,
        not_after,
        eku: Eku::parse(&order.eku).unwrap_or(Eku::ServerAndClientAuth),
    })
    .map_err(|error| ApiError::internal("issue a certificate", error))
}

fn certificate_of(issued: IssuedCertificate, ca: &TestCa, include_root: bool) -> OrderCertificate {
    OrderCertificate {
        serial: issued.serial,
        not_before: issued.not_before,
        not_after: issued.not_after,
        encoding: CertificateEncoding::Encoded(EncodedCertificate {
            chain: ca.chain_for(&issued.pem, include_root),
            pem: issued.pem,
            thumbprint: issued.thumbprint,
        }),
    }
}
