//! The reconciler: it settles SUBMITTING orders whose submission ended without a clear response.
//!
//! An order known not to have reached Entrust is submitted again at once. Otherwise the
//! reconciler lists the Entrust orders whose tracking info carries the order's marker: it adopts
//! the one it finds as if Entrust's response had arrived, and submits the order again, with the same
//! marker, only when Entrust still has none once the reconcile window after the last submission
//! has passed. It runs inside the poller, on orders the poller claimed.

use entrust::CertificateAuthority;
use entrust::model::OrderQuery;

use crate::core::{Core, after};
use crate::error::OrderError;
use crate::orders::submit::submit;
use crate::orders::transition::{self, Observation, Step};
use crate::state::OrderState;
use crate::store::claims;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow};

const ACTOR: &str = "reconciler";

/// Settles one claimed SUBMITTING order, or schedules its next look.
pub(crate) async fn reconcile(core: &Core, order: &OrderRow) -> Result<(), OrderError> {
    let authority = core
        .credentials
        .authority(order.entrust_credential_id())
        .await?;
    let Some(submitted_at) = order.submitted_at else {
        return resubmit(core, order, authority.as_ref()).await;
    };

    if let Some(observation) = find_at_entrust(order, authority.as_ref()).await? {
        let step = Step {
            actor: ACTOR,
            action: "adopt",
        };
        transition::apply(core, order, observation, step).await?;
        return Ok(());
    }

    let now = core.now();
    let window_end = after(submitted_at, core.settings.reconcile_window);
    if now >= window_end {
        tracing::info!(
            order.id = %order.id,
            "no Entrust order carries the order's marker after the reconcile window; submitting \
             it again"
        );
        return resubmit(core, order, authority.as_ref()).await;
    }
    let next = after(now, core.settings.backoff(order.poll_attempts + 1)).min(window_end);
    claims::release_until(
        &core.pool,
        order.id,
        OrderState::Submitting,
        next,
        None,
        now,
    )
    .await?;
    Ok(())
}

/// Looks the order up at Entrust by its marker and reads it in full when found.
async fn find_at_entrust(
    order: &OrderRow,
    authority: &dyn CertificateAuthority,
) -> Result<Option<Observation>, OrderError> {
    let Some(marker) = &order.submission_marker else {
        return Ok(None);
    };
    let query = OrderQuery {
        tracking_marker: Some(marker.clone()),
        page_size: 10,
        ..OrderQuery::default()
    };
    let found = authority
        .all_orders(query)
        .await
        .map_err(OrderError::Entrust)?;
    let Some(first) = found.iter().map(|summary| summary.tracking_id).min() else {
        return Ok(None);
    };
    if found.len() > 1 {
        tracing::warn!(
            order.id = %order.id, entrust.orders = found.len(),
            "several Entrust orders carry one order's marker; adopting the oldest"
        );
    }
    tracing::info!(
        order.id = %order.id, entrust.tracking_id = first.get(),
        "found the order at Entrust by its marker; adopting it"
    );
    let detail = authority.order(first).await.map_err(OrderError::Entrust)?;
    Ok(Some(Observation::from_detail(detail)))
}

/// Records another submission attempt, then submits the order with its original marker.
async fn resubmit(
    core: &Core,
    order: &OrderRow,
    authority: &dyn CertificateAuthority,
) -> Result<(), OrderError> {
    let now = core.now();
    let claimed_until = after(now, core.settings.claim_lease);
    let mut tx = core.pool.begin().await?;
    let Some(order) = orders::begin_resubmission(&mut tx, order.id, now, claimed_until).await?
    else {
        tx.rollback().await?;
        return Ok(());
    };
    history::record(
        &mut tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor: ACTOR,
            action: "resubmit",
            from_status: Some(OrderState::Submitting),
            to_status: Some(OrderState::Submitting),
            outcome: "submitting",
            detail: Some(format!("attempt {}", order.submit_attempts)),
        },
    )
    .await?;
    tx.commit().await?;

    let step = Step {
        actor: ACTOR,
        action: "resubmit",
    };
    match submit(core, &order, authority, step).await {
        // Stored as FAILED with Entrust's error; nothing is left to retry.
        Ok(_) | Err(OrderError::Rejected { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}
