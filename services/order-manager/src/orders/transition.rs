//! Applying what Entrust reported about an order: the state change, its history row and its
//! events, all in one transaction.
//!
//! Every change is conditional on the state the caller saw, so when two replicas (or a request
//! and the reconciler) learn the same thing, one applies it and the other finds the order moved
//! on and reports nothing. That is what keeps each event to one copy.

use entrust::model::{IssuedCertificate, OrderDetail, OrderOutcome, TrackingId};
use uuid::Uuid;

use super::certificate::accept_certificate;
use super::supersede::supersede_previous;
use crate::core::{Core, after};
use crate::error::OrderError;
use crate::events::{self, EnteringCertificate, StatusChange};
use crate::state::OrderState;
use crate::store::claims;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow, StateChange};

/// An order's state as Entrust reported it.
#[derive(Debug, Clone)]
pub(crate) enum Observation {
    /// The certificate exists and can be read.
    Issued {
        entrust_status: String,
        certificate: IssuedCertificate,
    },
    /// Entrust accepted the order and has no certificate for it yet.
    Pending {
        tracking_id: TrackingId,
        /// `None` when the response did not say (a placed order's response carries no status).
        entrust_status: Option<String>,
    },
    /// The order reached a state without a certificate to take in, or went back to ISSUED
    /// with the certificate Certitude already holds (unsuspended at Entrust).
    Settled {
        tracking_id: TrackingId,
        entrust_status: String,
        state: OrderState,
    },
}

impl Observation {
    /// Reads a fetched order. An order mapped to ISSUED whose certificate cannot be read yet
    /// (a reissue in progress, for example) counts as pending.
    pub fn from_detail(detail: OrderDetail) -> Self {
        let entrust_status = detail.status.as_str().to_owned();
        let state = OrderState::from_entrust(&detail.status);
        match (state, detail.certificate_pem) {
            (OrderState::Issued, Some(certificate_pem)) => Observation::Issued {
                entrust_status,
                certificate: IssuedCertificate {
                    tracking_id: detail.tracking_id,
                    certificate_pem,
                    chain_pem: detail.chain_pem,
                    serial_number: detail.serial_number,
                    expires_at: detail.expires_at,
                },
            },
            (OrderState::Issued | OrderState::Pending, _) => Observation::Pending {
                tracking_id: detail.tracking_id,
                entrust_status: Some(entrust_status),
            },
            (state, _) => Observation::Settled {
                tracking_id: detail.tracking_id,
                entrust_status,
                state,
            },
        }
    }

    /// Reads the response to a placed order; `None` for a validation-only response, which
    /// describes no order.
    pub fn from_outcome(outcome: OrderOutcome) -> Option<Self> {
        match outcome {
            // Entrust returns a certificate only once it issued it.
            OrderOutcome::Issued(certificate) => Some(Observation::Issued {
                entrust_status: "ACTIVE".to_owned(),
                certificate,
            }),
            OrderOutcome::Pending { tracking_id } => Some(Observation::Pending {
                tracking_id,
                entrust_status: None,
            }),
            OrderOutcome::Validated => None,
        }
    }
}

/// Actor and action of a step, for the order's history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'a> {
    pub actor: &'a str,
    pub action: &'a str,
}

/// Applies `observation` to `order` and returns the order as it is now. Emits `OrderCreated`
/// when the order leaves SUBMITTING, `OrderStatusChanged` for later moves, and
/// `CertificateIssued` when its certificate is accepted. A renewal or reissue that Entrust
/// accepted also moves the order it replaces to SUPERSEDED.
pub(crate) async fn apply(
    core: &Core,
    order: &OrderRow,
    observation: Observation,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    match observation {
        Observation::Issued {
            entrust_status,
            certificate,
        } => issue(core, order, entrust_status, certificate, step).await,
        Observation::Pending {
            tracking_id,
            entrust_status,
        } if order.status == OrderState::Submitting => {
            let change = StateChange {
                tracking_id: Some(i64::from(tracking_id.get())),
                entrust_status,
                next_poll_at: Some(after(core.now(), core.settings.poll_interval)),
                ..StateChange::default()
            };
            move_to(core, order, OrderState::Pending, change, None, step).await
        }
        Observation::Pending { entrust_status, .. } => {
            still_pending(core, order, entrust_status.as_deref()).await
        }
        Observation::Settled {
            tracking_id,
            entrust_status,
            state,
        } => {
            let change = StateChange {
                tracking_id: Some(i64::from(tracking_id.get())),
                entrust_status: Some(entrust_status),
                ..StateChange::default()
            };
            move_to(core, order, state, change, None, step).await
        }
    }
}

/// Takes in an issued certificate: checks its key against the CSR's (orders Certitude placed),
/// then records it. A certificate with another key fails the order instead.
async fn issue(
    core: &Core,
    order: &OrderRow,
    entrust_status: String,
    certificate: IssuedCertificate,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let tracking_id = i64::from(certificate.tracking_id.get());
    let mut serial_number = certificate
        .serial_number
        .as_ref()
        .map(|s| s.as_str().to_owned());
    let mut not_after = certificate.expires_at;
    let mut not_before = None;

    if let Some(spki) = &order.public_key_spki {
        match accept_certificate(&certificate.certificate_pem, spki) {
            Ok(accepted) => {
                serial_number = Some(accepted.serial_number.as_str().to_owned());
                not_before = Some(accepted.not_before);
                not_after = Some(accepted.not_after);
            }
            Err(error) => {
                tracing::warn!(
                    order.id = %order.id, entrust.tracking_id = tracking_id, error = %error,
                    "rejected the certificate Entrust issued for an order"
                );
                let change = StateChange {
                    tracking_id: Some(tracking_id),
                    entrust_status: Some(entrust_status),
                    error: Some(format!("the issued certificate was rejected: {error}")),
                    ..StateChange::default()
                };
                return move_to(core, order, OrderState::Failed, change, None, step).await;
            }
        }
    }

    let certificate_id = Uuid::now_v7();
    let change = StateChange {
        tracking_id: Some(tracking_id),
        entrust_status: Some(entrust_status),
        certificate_id: Some(certificate_id),
        serial_number: serial_number.clone(),
        not_after,
        not_before,
        ..StateChange::default()
    };
    let entering = EnteringCertificate::issued_for(
        order,
        certificate_id,
        &certificate,
        serial_number.as_deref(),
        not_after,
    );
    move_to(
        core,
        order,
        OrderState::Issued,
        change,
        Some(&entering),
        step,
    )
    .await
}

/// Moves `order` to `to` with its history row and events in one transaction. When the order
/// has already left the state the caller saw, nothing is written and the current row is
/// returned.
async fn move_to(
    core: &Core,
    order: &OrderRow,
    to: OrderState,
    change: StateChange,
    certificate: Option<&EnteringCertificate<'_>>,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let now = core.now();
    let mut tx = core.pool.begin().await?;
    let Some(updated) =
        orders::change_state(&mut tx, order.id, order.status, to, &change, now).await?
    else {
        tx.rollback().await?;
        tracing::debug!(order.id = %order.id, "order changed meanwhile; skipped a stale update");
        return current(core, order).await;
    };

    history::record(
        &mut tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor: step.actor,
            action: step.action,
            from_status: Some(order.status),
            to_status: Some(to),
            outcome: outcome_name(to),
            detail: change
                .error
                .clone()
                .or_else(|| change.entrust_status.clone()),
        },
    )
    .await?;
    let tracking_id = updated.tracking_id.unwrap_or_default();
    let order_event = if order.status == OrderState::Submitting {
        events::order_created(&updated, tracking_id, to)
    } else {
        events::status_changed(
            &updated,
            StatusChange {
                tracking_id: updated.tracking_id,
                previous: order.status,
                status: to,
                entrust_status: updated.entrust_status.as_deref(),
                error: updated.error.as_deref(),
            },
        )
    };
    core.outbox.enqueue(&mut tx, order_event).await?;
    if let Some(certificate) = certificate {
        core.outbox
            .enqueue(&mut tx, events::certificate_issued(certificate))
            .await?;
    }
    let accepted_by_entrust = matches!(to, OrderState::Pending | OrderState::Issued);
    if order.status == OrderState::Submitting && accepted_by_entrust {
        supersede_previous(core, &mut tx, &updated, step, now).await?;
    }
    tx.commit().await?;

    tracing::info!(
        order.id = %order.id, entrust.tracking_id = tracking_id,
        order.from = order.status.as_str(), order.to = to.as_str(), "order changed state"
    );
    Ok(updated)
}

/// Schedules the next check of a PENDING order that is still pending, with backoff.
async fn still_pending(
    core: &Core,
    order: &OrderRow,
    entrust_status: Option<&str>,
) -> Result<OrderRow, OrderError> {
    let now = core.now();
    let next = after(now, core.settings.backoff(order.poll_attempts + 1));
    claims::release_until(
        &core.pool,
        order.id,
        order.status,
        next,
        entrust_status,
        now,
    )
    .await?;
    current(core, order).await
}

async fn current(core: &Core, order: &OrderRow) -> Result<OrderRow, OrderError> {
    orders::get(&core.pool, order.id)
        .await?
        .ok_or_else(|| OrderError::NotFound {
            kind: "order",
            id: order.id.to_string(),
        })
}

fn outcome_name(state: OrderState) -> &'static str {
    match state {
        OrderState::Issued => "issued",
        OrderState::Pending => "pending",
        OrderState::Failed => "failed",
        _ => "changed",
    }
}
