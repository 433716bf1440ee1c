//! The replaced order of a renewal or reissue: once Entrust accepted the new order, the one it
//! replaces turns SUPERSEDED, as Entrust marks it RENEWED or REISSUED at the same moment.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::transition::Step;
use crate::core::Core;
use crate::error::OrderError;
use crate::events::{self, StatusChange};
use crate::state::OrderState;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow, Replacement, StateChange};

/// Moves the order that `successor` replaces to SUPERSEDED, with its history entry and
/// `OrderStatusChanged`, inside the caller's transaction. Does nothing for an order that
/// replaces none, or when the replaced order already left the states a renewal or reissue
/// starts from.
pub(crate) async fn supersede_previous(
    core: &Core,
    conn: &mut PgConnection,
    successor: &OrderRow,
    step: Step<'_>,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    let Some(replacement) = successor.replacement() else {
        return Ok(());
    };
    let Some(previous) =
        orders::get_for_update(&mut *conn, replacement.previous_order_id()).await?
    else {
        return Ok(());
    };
    if !matches!(
        previous.status,
        OrderState::Issued | OrderState::Expired | OrderState::Suspended
    ) {
        return Ok(());
    }

    let (action, entrust_status) = match replacement {
        Replacement::Renewal(_) => ("renew", "RENEWED"),
        Replacement::Reissue(_) => ("reissue", "REISSUED"),
    };
    let change = StateChange {
        entrust_status: Some(entrust_status.to_owned()),
        ..StateChange::default()
    };
    let Some(updated) = orders::change_state(
        &mut *conn,
        previous.id,
        previous.status,
        OrderState::Superseded,
        &change,
        now,
    )
    .await?
    else {
        return Ok(());
    };
    history::record(
        &mut *conn,
        HistoryEntry {
            order_id: previous.id,
            at: now,
            actor: step.actor,
            action,
            from_status: Some(previous.status),
            to_status: Some(OrderState::Superseded),
            outcome: "superseded",
            detail: Some(format!(
                "replaced by order {} ({} at Entrust)",
                successor.id,
                entrust_status.to_ascii_lowercase()
            )),
        },
    )
    .await?;
    let event = events::status_changed(
        &updated,
        StatusChange {
            tracking_id: updated.tracking_id,
            previous: previous.status,
            status: OrderState::Superseded,
            entrust_status: Some(entrust_status),
            error: None,
        },
    );
    core.outbox.enqueue(&mut *conn, event).await?;
    tracing::info!(
        order.id = %previous.id, order.successor = %successor.id,
        replacement = replacement.as_str(), "order superseded"
    );
    Ok(())
}
