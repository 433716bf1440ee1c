//! `POST /certificates/{trackingId}/renewals`: a new certificate with a new tracking id and a
//! new expiry for an ACTIVE, READY or EXPIRED order issued at least 30 days ago.
//!
//! The renewal consumes inventory like a new order (its own product, else the FLEX pool) and
//! its expiry follows `certExpiryDate` or `certLifetime` as for a new order. The original order
//! turns RENEWED; its certificate stays valid until it expires.

use serde_json::{Map, Value};
use time::Duration;

use super::checks::inventory_source;
use super::expiry::resolve_expiry;
use super::request::{SuccessorKind, read_successor_request};
use super::successor::build_successor;
use super::{CertificateResponse, IssueContext, issue_certificate, materialize};
use crate::error::ApiError;
use crate::format::timestamp;
use crate::model::CertificateStatus;
use crate::state::SimState;

/// Days after issuance before ECS allows a renewal.
const MIN_AGE_DAYS: i64 = 30;

/// Renews `tracking_id` for API user `creator` from a RenewCertificateRequest body.
pub fn renew_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    creator: &str,
    body: &Map<String, Value>,
) -> Result<CertificateResponse, ApiError> {
    let request = read_successor_request(body, SuccessorKind::Renewal)?;
    let include_root = state.account.include_root_in_chain;
    let original = state.order_mut(tracking_id)?;
    let status = original.status_at(context.now);
    let renewable = matches!(
        status,
        CertificateStatus::Active | CertificateStatus::Ready | CertificateStatus::Expired
    );
    let issued_at = original.certificate.as_ref().map(|c| c.not_before);
    let (true, Some(issued_at)) = (renewable, issued_at) else {
        return Err(ApiError::invalid_request(format!(
            "Certificate {tracking_id} cannot be renewed: its status is {status}, and only \
             ACTIVE, READY and EXPIRED certificates can be renewed."
        )));
    };
    let renewable_from = issued_at + Duration::days(MIN_AGE_DAYS);
    if context.now < renewable_from {
        return Err(ApiError::invalid_request(format!(
            "Certificate {tracking_id} was issued at {}, less than {MIN_AGE_DAYS} days ago; it \
             can be renewed from {}. Reissue it to replace it sooner.",
            timestamp(issued_at),
            timestamp(renewable_from)
        )));
    }
    materialize(original, context, include_root)?;

    let original = state.order(tracking_id)?;
    let cert_type = original.cert_type.clone();
    let not_after = resolve_expiry(
        &state.account,
        context.now,
        request.cert_expiry_date,
        request.cert_lifetime_years,
    )?;
    let mut successor = build_successor(state, original, &request, not_after, creator)?;
    let product = inventory_source(state, &cert_type)?;
    successor.tracking_id = state.take_tracking_id()?;
    let response = issue_certificate(&mut successor, context, include_root)?;

    state.inventory.consume(&product);
    successor.consumed_product = Some(product);
    state.order_mut(tracking_id)?.status = CertificateStatus::Renewed;
    state.insert_order(successor);
    Ok(response)
}
