//! `POST /certificates/{trackingId}/reissues`: a new certificate for an ACTIVE or READY order,
//! with a new tracking id and serial and the original's expiry.
//!
//! The original order turns REISSUED and its certificate counts as revoked (reason
//! `superseded`), as the Entrust-written Ansible module documents. A reissue consumes no
//! inventory.

use serde_json::{Map, Value};

use super::request::{SuccessorKind, read_successor_request};
use super::successor::build_successor;
use super::{CertificateResponse, IssueContext, issue_certificate, materialize};
use crate::error::ApiError;
use crate::model::CertificateStatus;
use crate::state::{Revocation, SimState, whole_seconds};

/// Reissues `tracking_id` for API user `creator` from a ReissueCertificateRequest body.
pub fn reissue_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    creator: &str,
    body: &Map<String, Value>,
) -> Result<CertificateResponse, ApiError> {
    let request = read_successor_request(body, SuccessorKind::Reissue)?;
    let include_root = state.account.include_root_in_chain;
    let original = state.order_mut(tracking_id)?;
    let status = original.status_at(context.now);
    if !matches!(status, CertificateStatus::Active | CertificateStatus::Ready) {
        return Err(ApiError::invalid_request(format!(
            "Certificate {tracking_id} cannot be reissued: its status is {status}, and only \
             ACTIVE and READY certificates can be reissued."
        )));
    }
    materialize(original, context, include_root)?;

    let original = state.order(tracking_id)?;
    let not_after = original.requested_expiry;
    let mut successor = build_successor(state, original, &request, not_after, creator)?;
    successor.tracking_id = state.take_tracking_id()?;
    let response = issue_certificate(&mut successor, context, include_root)?;

    let original = state.order_mut(tracking_id)?;
    original.status = CertificateStatus::Reissued;
    original.revocation = Some(Revocation {
        revoked_at: whole_seconds(context.now),
        reason: "superseded".to_owned(),
        comment: Some(format!("Reissued as {}.", response.tracking_id)),
    });
    state.insert_order(successor);
    Ok(response)
}
