//! Status changes of an existing order: the PATCH operations (APPROVE, DECLINE, SUSPEND,
//! UNSUSPEND) and deactivation.
//!
//! APPROVE and DECLINE need a PENDING order. SUSPEND needs a READY or ACTIVE one, UNSUSPEND a
//! SUSPENDED one, and deactivation an ACTIVE one. Any other status is a 400 that names it.
//! The status checked is the one reported now, so an expired certificate cannot be suspended.
//! A declined order gives back the inventory unit it consumed when it was queued.

use serde_json::{Map, Value};

use super::{CertificateResponse, IssueContext, approve_order};
use crate::error::ApiError;
use crate::json_fields::Fields;
use crate::model::{CertificateStatus, Permission};
use crate::state::SimState;

/// Longest `declineReason` ECS accepts.
const MAX_DECLINE_REASON: usize = 254;

/// A CertificatePatchRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOperation {
    /// PENDING → ACTIVE, issuing the certificate.
    Approve,
    /// PENDING → DECLINED.
    Decline {
        /// `declineReason`, at most 254 characters.
        reason: Option<String>,
    },
    /// READY or ACTIVE → SUSPENDED.
    Suspend,
    /// SUSPENDED → ACTIVE.
    Unsuspend,
}

impl PatchOperation {
    /// Reads a CertificatePatchRequest body.
    pub fn read(body: &Map<String, Value>) -> Result<PatchOperation, ApiError> {
        let mut fields = Fields::new(body);
        let operation = fields.string("operation");
        let reason = fields.string("declineReason");
        fields.finish()?;

        let operation = operation.ok_or_else(|| {
            ApiError::invalid(
                "operation",
                "operation is required: APPROVE, DECLINE, SUSPEND or UNSUSPEND.",
            )
        })?;
        let parsed = match operation.trim().to_ascii_uppercase().as_str() {
            "APPROVE" => PatchOperation::Approve,
            "DECLINE" => PatchOperation::Decline { reason: None },
            "SUSPEND" => PatchOperation::Suspend,
            "UNSUSPEND" => PatchOperation::Unsuspend,
            _ => {
                return Err(ApiError::invalid(
                    "operation",
                    format!(
                        "operation {operation:?} is not allowed; use APPROVE, DECLINE, SUSPEND \
                         or UNSUSPEND."
                    ),
                ));
            }
        };
        match (parsed, reason) {
            (PatchOperation::Decline { .. }, reason) => {
                check_decline_reason(reason.as_deref())?;
                Ok(PatchOperation::Decline { reason })
            }
            (_, Some(_)) => Err(ApiError::invalid(
                "declineReason",
                "declineReason is only allowed with operation DECLINE.",
            )),
            (parsed, None) => Ok(parsed),
        }
    }

    /// Returns the permission the operation needs.
    pub fn permission(&self) -> Permission {
        match self {
            PatchOperation::Approve => Permission::Approve,
            PatchOperation::Decline { .. } => Permission::Decline,
            PatchOperation::Suspend => Permission::Suspend,
            PatchOperation::Unsuspend => Permission::Unsuspend,
        }
    }
}

/// Checks the length of a decline reason.
pub fn check_decline_reason(reason: Option<&str>) -> Result<(), ApiError> {
    match reason {
        Some(reason) if reason.chars().count() > MAX_DECLINE_REASON => Err(ApiError::invalid(
            "declineReason",
            format!(
                "declineReason is {} characters long; the maximum is {MAX_DECLINE_REASON}.",
                reason.chars().count()
            ),
        )),
        _ => Ok(()),
    }
}

/// Applies a PATCH operation by API user `caller`. Returns the CertificateResponse for APPROVE
/// (201) and `None` for the others (200).
pub fn patch_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    caller: &str,
    operation: PatchOperation,
) -> Result<Option<CertificateResponse>, ApiError> {
    match operation {
        PatchOperation::Approve => {
            let order = state.order(tracking_id)?;
            if state.account.forbid_self_approval && order.creator_name == caller {
                return Err(ApiError::Forbidden(format!(
                    "API user {caller} placed certificate {tracking_id} and may not approve it \
                     too; another administrator must approve it."
                )));
            }
            approve_order(state, context, tracking_id).map(Some)
        }
        PatchOperation::Decline { reason } => {
            decline_order(state, context, tracking_id, reason).map(|()| None)
        }
        PatchOperation::Suspend => {
            let allowed = [CertificateStatus::Ready, CertificateStatus::Active];
            change_status(state, context, tracking_id, "SUSPEND", &allowed)?;
            state.order_mut(tracking_id)?.status = CertificateStatus::Suspended;
            Ok(None)
        }
        PatchOperation::Unsuspend => {
            let allowed = [CertificateStatus::Suspended];
            change_status(state, context, tracking_id, "UNSUSPEND", &allowed)?;
            state.order_mut(tracking_id)?.status = CertificateStatus::Active;
            Ok(None)
        }
    }
}

/// Declines the PENDING order `tracking_id`, storing `reason` and giving back its inventory.
pub fn decline_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    reason: Option<String>,
) -> Result<(), ApiError> {
    check_decline_reason(reason.as_deref())?;
    change_status(
        state,
        context,
        tracking_id,
        "DECLINE",
        &[CertificateStatus::Pending],
    )?;
    let order = state.order_mut(tracking_id)?;
    order.status = CertificateStatus::Declined;
    order.decline_reason = reason;
    if let Some(product) = order.consumed_product.take() {
        state.inventory.release(&product);
    }
    Ok(())
}

/// Deactivates the ACTIVE order `tracking_id`: status DEACTIVATED, `tracking.deactivated`
/// true and `deactivatedOn` now.
pub fn deactivate_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
) -> Result<(), ApiError> {
    change_status(
        state,
        context,
        tracking_id,
        "deactivate",
        &[CertificateStatus::Active],
    )?;
    let order = state.order_mut(tracking_id)?;
    order.status = CertificateStatus::Deactivated;
    order.deactivated_on = Some(crate::state::whole_seconds(context.now));
    Ok(())
}

/// Checks that the order's reported status is one of `allowed` for `action`.
fn change_status(
    state: &SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    action: &str,
    allowed: &[CertificateStatus],
) -> Result<(), ApiError> {
    let status = state.order(tracking_id)?.status_at(context.now);
    if allowed.contains(&status) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|status| status.as_str()).collect();
    Err(ApiError::invalid_request(format!(
        "Cannot {action} certificate {tracking_id}: its status is {status}, and {action} needs \
         {}.",
        names.join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: Value) -> Result<PatchOperation, ApiError> {
        let Value::Object(object) = value else {
            unreachable!("test bodies are objects")
        };
        PatchOperation::read(&object)
    }

    #[test]
    fn operations_are_read_case_insensitively() {
        assert_eq!(
            read(json!({"operation": "approve"})).unwrap(),
            PatchOperation::Approve
        );
        assert_eq!(
            read(json!({"operation": "DECLINE", "declineReason": "no"})).unwrap(),
            PatchOperation::Decline {
                reason: Some("no".to_owned())
            }
        );
    }

    #[test]
    fn missing_or_unknown_operation_names_the_field() {
        for body in [json!({}), json!({"operation": "REVOKE"})] {
            let error = read(body).unwrap_err();

            assert_eq!(error.body().errors[0].field.as_deref(), Some("operation"));
        }
    }

    #[test]
    fn decline_reason_longer_than_254_is_rejected() {
        let error =
            read(json!({"operation": "DECLINE", "declineReason": "x".repeat(255)})).unwrap_err();

        assert_eq!(
            error.body().errors[0].field.as_deref(),
            Some("declineReason")
        );
        assert!(read(json!({"operation": "DECLINE", "declineReason": "x".repeat(254)})).is_ok());
    }

    #[test]
    fn decline_reason_with_other_operation_is_rejected() {
        let error = read(json!({"operation": "SUSPEND", "declineReason": "x"})).unwrap_err();

        assert_eq!(
            error.body().errors[0].field.as_deref(),
            Some("declineReason")
        );
    }
}
