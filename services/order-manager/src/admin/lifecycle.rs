//! Approve, decline, suspend, resume and revoke: one Entrust call that changes an existing
//! order's status.
//!
//! Entrust accepts each of them only from certain statuses, so repeating an operation that took
//! effect fails, and none is sent twice blindly. When Entrust's response is lost, the order is
//! read back. A status that shows the change is recorded as its success. Any other status is
//! reported as an unknown outcome, with the claim released, so the caller may read the order
//! and decide.

use entrust::model::{ApprovalOutcome, Revocation, RevocationReason, TrackingId};
use uuid::Uuid;

use super::authorize::{Acting, acting_credential, permission_denied_by_entrust};
use super::{Action, Record, apply_detail, check_state, claim, record_change, record_unchanged};
use crate::core::Core;
use crate::error::OrderError;
use crate::events::RevokedCertificate;
use crate::orders::transition::{self, Observation, Step};
use crate::state::OrderState;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow};

/// An operation of this module with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operation {
    Approve,
    /// Decline with a reason of at most 254 characters, empty for none.
    Decline {
        reason: String,
    },
    Suspend,
    Resume,
    Revoke {
        reason: RevocationReason,
        comment: String,
    },
}

impl Operation {
    fn action(&self) -> Action {
        match self {
            Operation::Approve => Action::Approve,
            Operation::Decline { .. } => Action::Decline,
            Operation::Suspend => Action::Suspend,
            Operation::Resume => Action::Resume,
            Operation::Revoke { .. } => Action::Revoke,
        }
    }

    /// Returns the state the order reaches when the operation took effect; an approved order
    /// may stay PENDING until Entrust generates its certificate.
    fn target(&self) -> OrderState {
        match self {
            Operation::Approve | Operation::Resume => OrderState::Issued,
            Operation::Decline { .. } => OrderState::Declined,
            Operation::Suspend => OrderState::Suspended,
            Operation::Revoke { .. } => OrderState::Revoked,
        }
    }
}

/// A checked request for one [`Operation`].
#[derive(Debug, Clone)]
pub(crate) struct OperationRequest {
    pub order_id: Uuid,
    pub operation: Operation,
    /// Another credential of the same account to act with.
    pub admin_credential_id: Option<String>,
    pub actor: String,
}

/// Carries out `request` and returns the order as it is afterwards.
pub(crate) async fn run(core: &Core, request: &OperationRequest) -> Result<OrderRow, OrderError> {
    let action = request.operation.action();
    let order = super::visible_order(core, request.order_id).await?;
    let tracking_id = check_state(&order, action)?;
    let acting = acting_credential(
        core,
        &order,
        action,
        tracking_id,
        request.admin_credential_id.as_deref(),
    )
    .await?;
    let (order, claim) = claim(core, &order, action).await?;
    let step = Step {
        actor: &request.actor,
        action: action.verb(),
    };
    tracing::info!(
        order.id = %order.id, entrust.tracking_id = tracking_id.get(),
        credential.id = %acting.credential_id, action = action.verb(), actor = %request.actor,
        "sending an administrator operation to Entrust"
    );

    let result = send(core, &order, &request.operation, tracking_id, &acting, step).await;
    // A recorded change ended the claim already; this ends it after a failure.
    claim.release(core).await;
    result
}

/// Sends the operation and records its result.
async fn send(
    core: &Core,
    order: &OrderRow,
    operation: &Operation,
    tracking_id: TrackingId,
    acting: &Acting,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let authority = acting.authority.as_ref();
    let sent = match operation {
        Operation::Approve => match authority.approve(tracking_id).await {
            Ok(ApprovalOutcome::Issued(certificate)) => {
                let observation = Observation::Issued {
                    entrust_status: "ACTIVE".to_owned(),
                    certificate,
                };
                return transition::apply(core, order, observation, step).await;
            }
            Ok(ApprovalOutcome::Approved { .. }) => {
                return record_approved(core, order, "APPROVED", step).await;
            }
            Err(error) => Err(error),
        },
        Operation::Decline { reason } => authority.decline(tracking_id, reason).await,
        Operation::Suspend => authority.suspend(tracking_id).await,
        Operation::Resume => authority.unsuspend(tracking_id).await,
        Operation::Revoke { reason, comment } => {
            let revocation = Revocation {
                reason: *reason,
                comment: comment.clone(),
            };
            authority.revoke(tracking_id, &revocation).await
        }
    };

    match sent {
        Ok(()) => {
            let target = operation.target();
            let entrust_status = match target {
                OrderState::Declined => "DECLINED",
                OrderState::Suspended => "SUSPENDED",
                OrderState::Revoked => "REVOKED",
                _ => "ACTIVE",
            };
            record_done(core, order, operation, target, entrust_status, step).await
        }
        Err(error @ entrust::Error::OutcomeUnknown { .. }) => {
            tracing::warn!(
                order.id = %order.id, error = %error,
                "the outcome of an administrator operation is unknown; reading the order"
            );
            settle_unknown(core, order, operation, tracking_id, acting, step).await
        }
        Err(error) => Err(failed(core, order, operation.action(), acting, error, step).await),
    }
}

/// Records the operation's success: the state change, its history entry and events.
async fn record_done(
    core: &Core,
    order: &OrderRow,
    operation: &Operation,
    target: OrderState,
    entrust_status: &str,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let record = match operation {
        Operation::Decline { reason } => Record {
            entrust_status: Some(entrust_status),
            detail: Some(reason.clone()).filter(|reason| !reason.is_empty()),
            ..Record::default()
        },
        Operation::Revoke { reason, comment } => Record {
            entrust_status: Some(entrust_status),
            detail: Some(if comment.is_empty() {
                format!("reason {}", reason.as_str())
            } else {
                format!("reason {}: {comment}", reason.as_str())
            }),
            revoked: Some(RevokedCertificate {
                reason: reason.as_str(),
                comment,
                actor: step.actor,
            }),
        },
        _ => Record {
            entrust_status: Some(entrust_status),
            ..Record::default()
        },
    };
    record_change(core, order, target, record, step).await
}

/// Records an approval whose certificate Entrust generates later: the order stays PENDING
/// with Entrust status `entrust_status`, and the poller checks it at once.
///
/// NOTE: the simulator issues the certificate on approval, so no test runs this path.
async fn record_approved(
    core: &Core,
    order: &OrderRow,
    entrust_status: &str,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let now = core.now();
    let mut tx = core.pool.begin().await?;
    let noted =
        orders::note_entrust_status(&mut tx, order.id, order.status, entrust_status, now, now)
            .await?;
    let Some(updated) = noted else {
        tx.rollback().await?;
        return super::visible_order(core, order.id).await;
    };
    history::record(
        &mut tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor: step.actor,
            action: step.action,
            from_status: Some(order.status),
            to_status: Some(updated.status),
            outcome: "approved",
            detail: Some(format!(
                "Entrust status {entrust_status}; the certificate is generated later"
            )),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// Reads the order after a lost response and records the operation when its effect shows.
async fn settle_unknown(
    core: &Core,
    order: &OrderRow,
    operation: &Operation,
    tracking_id: TrackingId,
    acting: &Acting,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let action = operation.action();
    let unknown = |current: String| OrderError::OutcomeUnknown {
        order_id: order.id,
        action: action.verb(),
        current,
    };
    let detail = match acting.authority.order(tracking_id).await {
        Ok(detail) => detail,
        Err(error) => {
            return Err(unknown(format!(
                "unknown, because reading it failed ({error})"
            )));
        }
    };
    let state = OrderState::from_entrust(&detail.status);
    let entrust_status = detail.status.as_str().to_owned();
    let applied = match operation {
        Operation::Approve => state == OrderState::Issued || entrust_status == "APPROVED",
        _ => state == operation.target(),
    };
    if !applied {
        record_unchanged(
            core,
            order,
            "unknown",
            format!("Entrust's response was lost; Entrust status is still {entrust_status}"),
            step,
        )
        .await?;
        return Err(unknown(format!(
            "{state} (Entrust status {entrust_status})"
        )));
    }
    match operation {
        Operation::Approve if state == OrderState::Pending => {
            record_approved(core, order, &entrust_status, step).await
        }
        Operation::Approve => apply_detail(core, order, detail, step).await,
        _ => record_done(core, order, operation, state, &entrust_status, step).await,
    }
}

/// Turns Entrust's rejection of `action` into the caller's error, with a history entry. A 403
/// is reported to credential-sync. After a 400 or 404 the order is read back, so that the
/// message and the stored order show its status at Entrust. A 401 (the credential's API key or
/// client certificate is wrong) is a rejection too, without the read.
pub(crate) async fn failed(
    core: &Core,
    order: &OrderRow,
    action: Action,
    acting: &Acting,
    error: entrust::Error,
    step: Step<'_>,
) -> OrderError {
    let outcome = match &error {
        entrust::Error::PermissionDenied { .. } => "permission_denied",
        entrust::Error::InvalidRequest { .. }
        | entrust::Error::NotFound { .. }
        | entrust::Error::CredentialsRejected { .. } => "rejected",
        _ => "failed",
    };
    if let Err(history_error) =
        record_unchanged(core, order, outcome, error.to_string(), step).await
    {
        tracing::warn!(
            order.id = %order.id, error = %history_error,
            "recording a rejected administrator operation in the history failed"
        );
    }
    match error {
        entrust::Error::PermissionDenied { .. } => {
            permission_denied_by_entrust(core, order, action, acting).await
        }
        entrust::Error::InvalidRequest { .. } | entrust::Error::NotFound { .. } => {
            let current = match refresh(core, order, acting, step).await {
                Some(current) => format!("; the order is now {}", super::describe_status(&current)),
                None => String::new(),
            };
            OrderError::OperationRejected {
                order_id: order.id,
                action: action.verb(),
                current,
                source: Box::new(error),
            }
        }
        error @ entrust::Error::CredentialsRejected { .. } => OrderError::OperationRejected {
            order_id: order.id,
            action: action.verb(),
            current: String::new(),
            source: Box::new(error),
        },
        other => OrderError::Entrust(other),
    }
}

/// Reads the order at Entrust and records a status that changed there, as the poller would.
/// Returns the order as it is afterwards, or `None` when it could not be read.
async fn refresh(
    core: &Core,
    order: &OrderRow,
    acting: &Acting,
    step: Step<'_>,
) -> Option<OrderRow> {
    let tracking_id = TrackingId::new(u32::try_from(order.tracking_id?).ok()?);
    let step = Step {
        actor: step.actor,
        action: "refresh",
    };
    let read = acting.authority.order(tracking_id).await;
    let applied = match read {
        Ok(detail) => apply_detail(core, order, detail, step).await,
        Err(error) => Err(OrderError::Entrust(error)),
    };
    match applied {
        Ok(current) => Some(current),
        Err(error) => {
            tracing::warn!(
                order.id = %order.id, error = %error,
                "reading an order after Entrust rejected an operation failed"
            );
            None
        }
    }
}
