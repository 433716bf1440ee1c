//! Sending a stored order to Entrust and recording the response.
//!
//! A new order is `POST /certificates`; a renewal or reissue is a POST on the order it replaces,
//! which creates a new Entrust order just the same. None of them is idempotent, so the order row
//! and its marker are committed before the call, and a response that leaves the outcome open
//! never leads to a blind second call: the order stays SUBMITTING and the reconciler looks for
//! it at Entrust by its marker first.

use std::time::Duration;

use entrust::CertificateAuthority;
use entrust::model::{NewOrder, OrderOutcome, Reissue, Renewal, Requester, TrackingId};
use time::OffsetDateTime;

use super::transition::{self, Observation, Step};
use super::validity;
use crate::core::{Core, after};
use crate::error::OrderError;
use crate::state::OrderState;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow, Replacement, StateChange};

/// Effect of a `place_order` error on the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Entrust refused it, or the credential cannot place orders: the order fails.
    Rejected,
    /// The request did not reach Entrust or was not processed: submit again later.
    NotSent,
    /// Entrust may hold the order: look for it before submitting again.
    Unknown,
}

pub(super) fn verdict(error: &entrust::Error) -> Verdict {
    use entrust::Error;
    match error {
        Error::InvalidRequest { .. }
        | Error::CredentialsRejected { .. }
        | Error::PermissionDenied { .. }
        | Error::InvalidInput { .. }
        | Error::Config { .. }
        | Error::NotFound { .. } => Verdict::Rejected,
        Error::RateLimited { .. } | Error::Unavailable { .. } => Verdict::NotSent,
        _ => Verdict::Unknown,
    }
}

/// Builds the Entrust order of `order`, expiring its validity in days after the order date
/// (see [`validity::expiry_date`]).
pub(crate) fn new_order(
    order: &OrderRow,
    now: OffsetDateTime,
    default_validity_days: u32,
) -> NewOrder {
    let validity_days = order
        .validity_days
        .and_then(|days| u32::try_from(days).ok())
        .unwrap_or(default_validity_days);
    NewOrder {
        product: order.product.clone(),
        csr_pem: order.csr_pem.clone().unwrap_or_default(),
        dns_names: order.dns_names.clone(),
        client_id: order.client_id.and_then(|id| u32::try_from(id).ok()),
        organization: order.organization.clone(),
        expires_on: validity::expiry_date(now, validity_days),
        lifetime: None,
        eku: None,
        tracking_marker: order.submission_marker.clone(),
        requester: Requester::default(),
        queue_for_approval: order.queue_for_approval,
        validate_only: false,
    }
}

/// Places `order` (which must be SUBMITTING and claimed by the caller) and records the response.
///
/// Returns the order as it is afterwards: ISSUED, PENDING or another state Entrust reported,
/// or still SUBMITTING when the outcome is open. Fails with [`OrderError::Rejected`] when
/// Entrust refused the order, which is then stored as FAILED.
pub(crate) async fn submit(
    core: &Core,
    order: &OrderRow,
    authority: &dyn CertificateAuthority,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let request = new_order(order, core.now(), core.settings.default_validity_days);
    let replaced = replaced_order(core, order).await?;
    tracing::info!(
        order.id = %order.id, credential.id = %order.entrust_credential_id(),
        order.attempt = order.submit_attempts,
        order.replacement = replaced.map(|(replacement, _)| replacement.as_str()),
        "submitting order to Entrust"
    );

    let error = match send(authority, &request, replaced).await {
        Ok(outcome) => match Observation::from_outcome(outcome) {
            Some(observation) => return transition::apply(core, order, observation, step).await,
            None => {
                let reason = "Entrust only validated the order and placed none";
                return park(core, order, true, reason, core.settings.poll_interval, step).await;
            }
        },
        Err(error) => error,
    };

    match verdict(&error) {
        Verdict::Rejected => {
            reject(core, order, &error, step).await?;
            Err(OrderError::Rejected {
                order_id: order.id,
                source: error,
            })
        }
        Verdict::NotSent => {
            tracing::warn!(
                order.id = %order.id, error = %error,
                "Entrust did not take the order; submitting it again later"
            );
            let wait = error.retry_after().unwrap_or(core.settings.poll_interval);
            park(core, order, false, &error.to_string(), wait, step).await
        }
        Verdict::Unknown => {
            tracing::warn!(
                order.id = %order.id, error = %error,
                "the outcome of an order submission is unknown; the reconciler looks it up"
            );
            let wait = core.settings.poll_interval;
            park(core, order, true, &error.to_string(), wait, step).await
        }
    }
}

/// Returns how `order` replaces an earlier order, with that order's Entrust tracking id.
async fn replaced_order(
    core: &Core,
    order: &OrderRow,
) -> Result<Option<(Replacement, TrackingId)>, OrderError> {
    let Some(replacement) = order.replacement() else {
        return Ok(None);
    };
    let previous_id = replacement.previous_order_id();
    let tracking_id = orders::get(&core.pool, previous_id)
        .await?
        .and_then(|previous| previous.tracking_id)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| OrderError::NotFound {
            kind: "Entrust tracking id of replaced order",
            id: previous_id.to_string(),
        })?;
    Ok(Some((replacement, TrackingId::new(tracking_id))))
}

/// Sends `request` as a new order, or as the renewal or reissue of the order `replaced` names.
/// A renewal and a reissue send the same CSR, names and marker as a new order would; a
/// renewal also sends the new expiry, while a reissue keeps the replaced order's expiry.
async fn send(
    authority: &dyn CertificateAuthority,
    request: &NewOrder,
    replaced: Option<(Replacement, TrackingId)>,
) -> Result<OrderOutcome, entrust::Error> {
    let csr_pem = Some(request.csr_pem.clone()).filter(|csr| !csr.is_empty());
    match replaced {
        None => authority.place_order(request).await,
        Some((Replacement::Renewal(_), tracking_id)) => {
            let renewal = Renewal {
                csr_pem,
                dns_names: request.dns_names.clone(),
                expires_on: Some(request.expires_on),
                tracking_marker: request.tracking_marker.clone(),
                ..Renewal::default()
            };
            authority.renew(tracking_id, &renewal).await
        }
        Some((Replacement::Reissue(_), tracking_id)) => {
            let reissue = Reissue {
                csr_pem,
                dns_names: request.dns_names.clone(),
                tracking_marker: request.tracking_marker.clone(),
                ..Reissue::default()
            };
            authority.reissue(tracking_id, &reissue).await
        }
    }
}

/// Stores a refused order as FAILED with Entrust's error. No event: the order never existed at
/// Entrust, and the caller receives the error.
async fn reject(
    core: &Core,
    order: &OrderRow,
    error: &entrust::Error,
    step: Step<'_>,
) -> Result<(), OrderError> {
    let now = core.now();
    let message = error.to_string();
    let change = StateChange {
        error: Some(message.clone()),
        ..StateChange::default()
    };
    let mut tx = core.pool.begin().await?;
    let changed = orders::change_state(
        &mut tx,
        order.id,
        order.status,
        OrderState::Failed,
        &change,
        now,
    )
    .await?;
    if changed.is_some() {
        history::record(
            &mut tx,
            HistoryEntry {
                order_id: order.id,
                at: now,
                actor: step.actor,
                action: step.action,
                from_status: Some(order.status),
                to_status: Some(OrderState::Failed),
                outcome: "rejected",
                detail: Some(message),
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(order.id = %order.id, error = %error, "Entrust rejected an order");
    Ok(())
}

/// Leaves the order SUBMITTING for the reconciler, due after `wait`.
async fn park(
    core: &Core,
    order: &OrderRow,
    reached_entrust: bool,
    reason: &str,
    wait: Duration,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let now = core.now();
    let mut tx = core.pool.begin().await?;
    let parked = orders::park_submission(
        &mut tx,
        order.id,
        reached_entrust,
        reason,
        after(now, wait),
        now,
    )
    .await?;
    if parked {
        history::record(
            &mut tx,
            HistoryEntry {
                order_id: order.id,
                at: now,
                actor: step.actor,
                action: step.action,
                from_status: Some(order.status),
                to_status: Some(OrderState::Submitting),
                outcome: if reached_entrust {
                    "unknown"
                } else {
                    "not_sent"
                },
                detail: Some(reason.to_owned()),
            },
        )
        .await?;
    }
    tx.commit().await?;
    orders::get(&core.pool, order.id)
        .await?
        .ok_or_else(|| OrderError::NotFound {
            kind: "order",
            id: order.id.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use entrust::ApiMessages;

    use super::*;

    #[test]
    fn refusals_fail_the_order() {
        let error = entrust::Error::InvalidRequest {
            endpoint: "POST /certificates",
            messages: ApiMessages::default(),
        };

        assert_eq!(verdict(&error), Verdict::Rejected);
    }

    #[test]
    fn throttling_means_not_sent() {
        let error = entrust::Error::RateLimited {
            endpoint: "POST /certificates",
            retry_after: None,
            limit_per_30s: None,
            messages: ApiMessages::default(),
        };

        assert_eq!(verdict(&error), Verdict::NotSent);
    }

    #[test]
    fn ambiguous_failure_is_unknown() {
        let error = entrust::Error::OutcomeUnknown {
            endpoint: "POST /certificates",
            status: Some(502),
            source: None,
        };

        assert_eq!(verdict(&error), Verdict::Unknown);
    }
}
