//! Approving a PENDING order: the certificate is issued from the stored CSR and the order turns
//! ACTIVE. Only PENDING orders can be approved.

use super::{CertificateResponse, IssueContext, issue_certificate, materialize};
use crate::error::ApiError;
use crate::model::CertificateStatus;
use crate::state::SimState;

/// Approves the PENDING order `tracking_id` and issues its certificate, valid from now.
pub fn approve_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
) -> Result<CertificateResponse, ApiError> {
    let include_root = state.account.include_root_in_chain;
    let order = state.order_mut(tracking_id)?;
    let status = order.status_at(context.now);
    if status != CertificateStatus::Pending {
        return Err(ApiError::invalid_request(format!(
            "Certificate {tracking_id} is {status}; only PENDING certificates can be approved."
        )));
    }
    materialize(order, context, include_root)?;
    issue_certificate(order, context, include_root)
}
