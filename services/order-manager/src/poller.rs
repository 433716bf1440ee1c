//! The background poller: it claims orders that are due, checks them at Entrust and records
//! what it finds. PENDING orders move on once Entrust issues, declines or otherwise settles
//! them; SUBMITTING orders go to the reconciler.
//!
//! Several replicas may run it. Each round claims a batch with a lease (`claimed_until`) in one
//! statement that commits at once, so no transaction stays open during the Entrust calls, and
//! other replicas skip the claimed rows until the lease ends. Every write that follows is
//! conditional on the state the poller saw.

use entrust::model::TrackingId;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::core::{Core, after};
use crate::error::OrderError;
use crate::orders::transition::{self, Observation, Step};
use crate::reconcile;
use crate::state::OrderState;
use crate::store::claims;
use crate::store::orders::OrderRow;

/// Orders of one batch checked at the same time.
const CONCURRENT_CHECKS: usize = 4;

/// Polls until `shutdown` is cancelled, finishing the batch in progress.
pub(crate) async fn run(core: Core, shutdown: CancellationToken) {
    tracing::info!("order poller started");
    while !shutdown.is_cancelled() {
        let claimed = match claim(&core).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = %error, "claiming due orders failed; retrying next round");
                Vec::new()
            }
        };
        let full = claimed.len() >= core.settings.poll_batch_size as usize;
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENT_CHECKS, |order| {
                let span = tracing::info_span!(
                    "order.check",
                    order.id = %order.id,
                    order.status = order.status.as_str(),
                    entrust.tracking_id = order.tracking_id,
                );
                check(&core, order).instrument(span)
            })
            .await;
        if full {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(core.settings.poll_interval) => {}
        }
    }
    tracing::info!("order poller stopped");
}

async fn claim(core: &Core) -> Result<Vec<OrderRow>, sqlx::Error> {
    let now = core.now();
    let claimed_until = after(now, core.settings.claim_lease);
    claims::claim_due(
        &core.pool,
        now,
        claimed_until,
        core.settings.poll_batch_size,
    )
    .await
}

/// Checks one claimed order. A failure is logged and the order is checked again later.
async fn check(core: &Core, order: OrderRow) {
    let result = match order.status {
        OrderState::Submitting => reconcile::reconcile(core, &order).await,
        OrderState::Pending => check_pending(core, &order).await,
        // The order left the polled states after the claim; nothing to do.
        _ => Ok(()),
    };
    if let Err(error) = result {
        retry_later(core, &order, &error).await;
    }
}

async fn check_pending(core: &Core, order: &OrderRow) -> Result<(), OrderError> {
    let tracking_id = order
        .tracking_id
        .and_then(|id| u32::try_from(id).ok())
        .map(TrackingId::new)
        .ok_or_else(|| OrderError::NotFound {
            kind: "Entrust tracking id of order",
            id: order.id.to_string(),
        })?;
    let authority = core
        .credentials
        .authority(order.entrust_credential_id())
        .await?;
    let detail = authority
        .order(tracking_id)
        .await
        .map_err(OrderError::Entrust)?;
    let step = Step {
        actor: "poller",
        action: "poll",
    };
    transition::apply(core, order, Observation::from_detail(detail), step).await?;
    Ok(())
}

async fn retry_later(core: &Core, order: &OrderRow, error: &OrderError) {
    let now = core.now();
    let wait = core.settings.backoff(order.poll_attempts + 1);
    tracing::warn!(
        order.id = %order.id, order.status = order.status.as_str(),
        error = %error_chain(error), retry_in_s = wait.as_secs(),
        "checking an order failed; checking it again later"
    );
    let released = claims::release_until(
        &core.pool,
        order.id,
        order.status,
        after(now, wait),
        None,
        now,
    )
    .await;
    if let Err(error) = released {
        tracing::warn!(
            order.id = %order.id, error = %error,
            "releasing an order failed; its claim expires on its own"
        );
    }
}

/// Formats an error with its causes, for one log line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
