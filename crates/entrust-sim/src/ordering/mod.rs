//! Certificate order lifecycle: placing new orders, approving pending ones and issuing their
//! certificates. Reissue, renewal, revocation and the other PATCH operations belong here too,
//! beside [`new_order`] and [`approve`].

mod approve;
mod expiry;
mod new_order;
mod request;
mod subject;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use approve::approve_order;
pub use new_order::{PlaceOutcome, place_new_order};

use crate::ca::{LeafRequest, TestCa};
use crate::error::ApiError;
use crate::format::timestamp;
use crate::model::{CertificateStatus, Eku};
use crate::state::{Order, OrderCertificate};

/// The CertificateResponse body of a 201 (new order, approval, later reissue and renewal).
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
    /// Builds the response for an order that has a certificate.
    pub fn for_order(order: &Order) -> Option<CertificateResponse> {
        let certificate = order.certificate.as_ref()?;
        Some(CertificateResponse {
            tracking_id: order.tracking_id,
            end_entity_cert: certificate.pem.clone(),
            chain_certs: certificate.chain.clone(),
            serial_number: certificate.serial.clone(),
            expires_after: timestamp(certificate.not_after),
        })
    }
}

/// Issues the certificate of `order` from its CSR: valid from `now` until the order's requested
/// expiry, with the order's subject and DNS names. Sets the certificate and status ACTIVE.
pub(crate) fn issue_certificate(
    order: &mut Order,
    ca: &TestCa,
    now: OffsetDateTime,
    include_root: bool,
) -> Result<CertificateResponse, ApiError> {
    let Some(csr) = &order.csr else {
        return Err(ApiError::invalid_request(format!(
            "Certificate {} has no CSR to issue from.",
            order.tracking_id
        )));
    };
    if order.requested_expiry <= now {
        return Err(ApiError::invalid_request(format!(
            "Certificate {} asked to expire at {}, which has passed; it can no longer be issued.",
            order.tracking_id,
            timestamp(order.requested_expiry)
        )));
    }
    let dns_names = order
        .subject_alt_names
        .iter()
        .filter(|name| name.kind == "dNSName")
        .map(|name| name.value.clone())
        .collect();
    let issued = ca
        .issue(&LeafRequest {
            spki_der: csr.spki_der.clone(),
            key_type: order.key.key_type,
            common_name: order.common_name.clone(),
            organizational_units: order.ou.clone(),
            organization: order.org.clone(),
            dns_names,
            not_before: now,
            not_after: order.requested_expiry,
            eku: Eku::parse(&order.eku).unwrap_or(Eku::ServerAndClientAuth),
        })
        .map_err(|error| ApiError::internal("issue a certificate", error))?;
    order.certificate = Some(OrderCertificate {
        chain: ca.chain_for(&issued.pem, include_root),
        pem: issued.pem,
        serial: issued.serial,
        not_before: issued.not_before,
        not_after: issued.not_after,
    });
    order.status = CertificateStatus::Active;
    CertificateResponse::for_order(order)
        .ok_or_else(|| ApiError::invalid_request("The certificate could not be stored."))
}
