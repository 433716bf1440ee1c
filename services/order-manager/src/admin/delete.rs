//! Deleting an order from Certitude only: Entrust is not called and the certificate stays in
//! the inventory.
//!
//! The row stays with `deleted_at` set, as the tombstone of its tracking id: GetOrder, ListOrders,
//! CountOrders and the poller leave it out, an import skips its tracking id unless asked to
//! restore deleted orders, and its history stays readable. Deleting the row instead would drop
//! the history (which cascades) and break the links of renewals and reissues to it.

use uuid::Uuid;

use crate::core::Core;
use crate::error::OrderError;
use crate::events;
use crate::state::OrderState;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow};

/// Deletes the order `id` on behalf of `actor` and returns it as it was, with `OrderDeleted`
/// and a history entry written in the same transaction.
///
/// Fails with NOT_FOUND for an unknown or already deleted order, and with
/// [`OrderError::Busy`] while a request or the poller works on it. A SUBMITTING order fails
/// with [`OrderError::WrongState`], because its Entrust order may exist and the reconciler
/// still has to settle it.
pub(crate) async fn delete_order(
    core: &Core,
    id: Uuid,
    actor: &str,
) -> Result<OrderRow, OrderError> {
    let now = core.now();
    let mut tx = core.pool.begin().await?;
    let Some(deleted) = orders::mark_deleted(&mut tx, id, actor, now).await? else {
        tx.rollback().await?;
        return Err(deletion_error(core, id).await);
    };
    history::record(
        &mut tx,
        HistoryEntry {
            order_id: id,
            at: now,
            actor,
            action: "delete",
            from_status: Some(deleted.status),
            to_status: Some(deleted.status),
            outcome: "deleted",
            detail: Some(
                "removed from Certitude; Entrust was not called and the certificate stays in \
                 the inventory"
                    .to_owned(),
            ),
        },
    )
    .await?;
    core.outbox
        .enqueue(&mut tx, events::order_deleted(&deleted, actor))
        .await?;
    tx.commit().await?;
    tracing::info!(
        order.id = %id, entrust.tracking_id = deleted.tracking_id, actor,
        "order deleted from Certitude"
    );
    Ok(deleted)
}

/// Explains why the order `id` could not be marked deleted.
async fn deletion_error(core: &Core, id: Uuid) -> OrderError {
    let order = match orders::get_visible(&core.pool, id).await {
        Ok(order) => order,
        Err(error) => return error.into(),
    };
    match order {
        None => OrderError::NotFound {
            kind: "order",
            id: id.to_string(),
        },
        Some(order) if order.status == OrderState::Submitting => OrderError::WrongState {
            order_id: id,
            action: "delete",
            current: OrderState::Submitting.as_str().to_owned(),
            needed: "an order whose submission to Entrust is settled; wait until it leaves \
                     SUBMITTING",
        },
        Some(_) => OrderError::Busy { order_id: id },
    }
}
