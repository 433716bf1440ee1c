//! The events order-manager produces, built from order rows. Each is written to the outbox in
//! the transaction of the change it describes.
//!
//! Order events use the order id as aggregate id. `CertificateIssued` and `CertificateRevoked`
//! use the certificate id, or the order id for a revoked certificate that never entered
//! Certitude.

use certitude_platform::events::timestamp;
use certitude_platform::outbox::NewEvent;
use certitude_proto::events::v1::{
    CertificateIssued, CertificateRevoked, OrderCreated, OrderDeleted, OrderImported,
    OrderStatusChanged,
};
use entrust::model::IssuedCertificate;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::state::OrderState;
use crate::store::orders::{OrderRow, Replacement};

/// `OrderCreated`: Entrust accepted an order Certitude placed; `status` is its state after the
/// call.
pub(crate) fn order_created(order: &OrderRow, tracking_id: i64, status: OrderState) -> NewEvent {
    let payload = OrderCreated {
        order_id: order.id.to_string(),
        credential_id: order.credential_id.clone(),
        tracking_id,
        product: order.product.clone(),
        dns_names: order.dns_names.clone(),
        status: status.as_str().to_owned(),
    };
    NewEvent::new(order.id.to_string(), &payload)
}

/// `OrderImported`: an import found an Entrust order new to Certitude.
pub(crate) fn order_imported(
    order_id: Uuid,
    credential_id: &str,
    tracking_id: i64,
    status: OrderState,
    entrust_status: &str,
) -> NewEvent {
    let payload = OrderImported {
        order_id: order_id.to_string(),
        credential_id: credential_id.to_owned(),
        tracking_id,
        status: status.as_str().to_owned(),
        entrust_status: entrust_status.to_owned(),
    };
    NewEvent::new(order_id.to_string(), &payload)
}

/// The change an `OrderStatusChanged` reports.
pub(crate) struct StatusChange<'a> {
    pub tracking_id: Option<i64>,
    pub previous: OrderState,
    pub status: OrderState,
    pub entrust_status: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// `OrderStatusChanged`: a known order moved to another state.
pub(crate) fn status_changed(order: &OrderRow, change: StatusChange<'_>) -> NewEvent {
    let payload = OrderStatusChanged {
        order_id: order.id.to_string(),
        tracking_id: change.tracking_id.or(order.tracking_id).unwrap_or_default(),
        previous_status: change.previous.as_str().to_owned(),
        status: change.status.as_str().to_owned(),
        entrust_status: change.entrust_status.unwrap_or_default().to_owned(),
        credential_id: order.credential_id.clone(),
        error: change.error.unwrap_or_default().to_owned(),
    };
    NewEvent::new(order.id.to_string(), &payload)
}

/// A certificate entering Certitude, with the ids Certitude gave it.
pub(crate) struct EnteringCertificate<'a> {
    pub certificate_id: Uuid,
    pub order_id: Uuid,
    pub credential_id: &'a str,
    pub tracking_id: i64,
    /// Inventory key pair of the order; `None` for an imported certificate.
    pub key_id: Option<&'a str>,
    pub certificate_pem: &'a str,
    pub chain_pem: &'a [String],
    pub serial_number: Option<&'a str>,
    pub not_after: Option<OffsetDateTime>,
    /// State of the order once the certificate has entered, sent as `order_status`.
    pub order_status: OrderState,
    /// Certificate this one replaces and how, for a renewal or reissue.
    pub replaces: Option<(Uuid, Replacement)>,
}

impl<'a> EnteringCertificate<'a> {
    /// Describes `certificate`, issued for `order`, under the new id `certificate_id`; the
    /// order moves to ISSUED with it.
    pub fn issued_for(
        order: &'a OrderRow,
        certificate_id: Uuid,
        certificate: &'a IssuedCertificate,
        serial_number: Option<&'a str>,
        not_after: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            certificate_id,
            order_id: order.id,
            credential_id: &order.credential_id,
            tracking_id: i64::from(certificate.tracking_id.get()),
            key_id: order.key_id.as_deref(),
            certificate_pem: &certificate.certificate_pem,
            chain_pem: &certificate.chain_pem,
            serial_number,
            not_after,
            order_status: OrderState::Issued,
            replaces: order.replaces_certificate_id.zip(order.replacement()),
        }
    }
}

/// `CertificateIssued`: a certificate entered Certitude. Carries no key.
pub(crate) fn certificate_issued(certificate: &EnteringCertificate<'_>) -> NewEvent {
    let payload = CertificateIssued {
        order_id: certificate.order_id.to_string(),
        credential_id: certificate.credential_id.to_owned(),
        tracking_id: certificate.tracking_id,
        certificate_pem: certificate.certificate_pem.to_owned(),
        chain_pem: certificate.chain_pem.to_vec(),
        serial_number: certificate.serial_number.unwrap_or_default().to_owned(),
        not_after: certificate.not_after.map(timestamp),
        key_id: certificate.key_id.unwrap_or_default().to_owned(),
        replaces_certificate_id: certificate
            .replaces
            .map(|(id, _)| id.to_string())
            .unwrap_or_default(),
        certificate_id: certificate.certificate_id.to_string(),
        order_status: certificate.order_status.as_str().to_owned(),
        replacement: certificate
            .replaces
            .map(|(_, replacement)| replacement.as_str().to_owned())
            .unwrap_or_default(),
    };
    NewEvent::new(certificate.certificate_id.to_string(), &payload)
}

/// A revocation Certitude requested, for `CertificateRevoked`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RevokedCertificate<'a> {
    /// CRL reason as sent to Entrust: `unspecified` or `keyCompromise`.
    pub reason: &'a str,
    pub comment: &'a str,
    pub actor: &'a str,
}

/// `CertificateRevoked`: Entrust revoked `order`'s certificate on a Certitude request.
pub(crate) fn certificate_revoked(order: &OrderRow, revoked: &RevokedCertificate<'_>) -> NewEvent {
    let payload = CertificateRevoked {
        order_id: order.id.to_string(),
        credential_id: order.credential_id.clone(),
        tracking_id: order.tracking_id.unwrap_or_default(),
        certificate_id: order
            .certificate_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        serial_number: order.serial_number.clone().unwrap_or_default(),
        reason: revoked.reason.to_owned(),
        comment: revoked.comment.to_owned(),
        actor: revoked.actor.to_owned(),
    };
    let aggregate_id = order.certificate_id.unwrap_or(order.id);
    NewEvent::new(aggregate_id.to_string(), &payload)
}

/// `OrderDeleted`: `order` was removed from Certitude by `actor`.
pub(crate) fn order_deleted(order: &OrderRow, actor: &str) -> NewEvent {
    let payload = OrderDeleted {
        order_id: order.id.to_string(),
        credential_id: order.credential_id.clone(),
        tracking_id: order.tracking_id.unwrap_or_default(),
        certificate_id: order
            .certificate_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        actor: actor.to_owned(),
    };
    NewEvent::new(order.id.to_string(), &payload)
}
