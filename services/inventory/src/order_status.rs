//! Following the state of each certificate's order: OrderStatusChanged events set the status
//! of the order's certificates (revoked, suspended, or active/expired by validity).
//!
//! The durable consumer [`DURABLE_NAME`] runs [`OrderStatusChangedHandler`] inside the
//! platform's inbox transaction, so a redelivered event has no second effect. Each applied
//! change is also recorded in `order_statuses` with the event's envelope sequence, for two
//! reasons:
//! - Events of one order may arrive out of order (several outbox relays), so a change older
//!   than the recorded one is ignored.
//! - CertificateIssued and OrderStatusChanged are read by separate consumers, so an order may
//!   be revoked here before its certificate arrives. The CertificateIssued consumer then takes
//!   the recorded state over the one in its event (see [`recorded_state`]).
//!
//! Both consumers take [`lock_order`] before they read or write an order's statuses, so the
//! two cannot interleave on the same order.

use std::collections::HashMap;

use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{BoxError, EventHandler, ReceivedEvent};
use certitude_platform::db::DbError;
use certitude_platform::events::EnvelopeError;
use certitude_proto::events::v1::OrderStatusChanged;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::certificate_store::{self, StatusRule};

/// Durable consumer name of the inventory's OrderStatusChanged consumer.
pub const DURABLE_NAME: &str = "inventory-order-status-changed";

/// First key of the transaction-level advisory locks on orders ("INVO" in ASCII). The second
/// key is a hash of the order id.
const ORDER_LOCK_CLASS: i32 = 0x494E_564F;

/// An OrderStatusChanged event that could not be applied. The text goes to the dead-letter
/// headers.
#[derive(Debug, thiserror::Error)]
pub enum StatusChangeError {
    #[error("the event is not a decodable OrderStatusChanged")]
    Payload(#[from] EnvelopeError),

    #[error("order_id is empty: the producer must name the order whose state changed")]
    MissingOrderId,

    #[error("applying state {status} of order {order_id} to its certificates failed")]
    Db {
        order_id: String,
        status: String,
        #[source]
        source: DbError,
    },
}

/// Sets the status of an order's certificates from each OrderStatusChanged event.
#[derive(Debug, Clone)]
pub struct OrderStatusChangedHandler {
    clock: SharedClock,
}

impl OrderStatusChangedHandler {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock }
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), StatusChangeError> {
        let changed: OrderStatusChanged = event.payload()?;
        if changed.order_id.is_empty() {
            return Err(StatusChangeError::MissingOrderId);
        }
        let db_error = |source| StatusChangeError::Db {
            order_id: changed.order_id.clone(),
            status: changed.status.clone(),
            source,
        };
        let now = self.clock.now();
        let sequence = i64::try_from(event.envelope.sequence).unwrap_or(i64::MAX);

        lock_order(conn, &changed.order_id)
            .await
            .map_err(db_error)?;
        let newer = record_state(conn, &changed.order_id, &changed.status, sequence, now)
            .await
            .map_err(db_error)?;
        if !newer {
            tracing::debug!(
                order.id = %changed.order_id,
                order.status = %changed.status,
                event.sequence = sequence,
                "a later state of the order is already applied; ignoring the older change"
            );
            return Ok(());
        }
        let Some(rule) = StatusRule::for_order_state(&changed.status) else {
            tracing::debug!(
                order.id = %changed.order_id,
                order.status = %changed.status,
                "the order's new state does not change its certificates' status"
            );
            return Ok(());
        };
        let updated = certificate_store::apply_order_rule(conn, &changed.order_id, rule, now)
            .await
            .map_err(db_error)?;
        if updated > 0 {
            tracing::info!(
                order.id = %changed.order_id,
                order.status = %changed.status,
                certificates.updated = updated,
                "certificates follow their order's new state"
            );
        }
        Ok(())
    }
}

impl EventHandler for OrderStatusChangedHandler {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.apply(conn, event).await.map_err(BoxError::from)
    }
}

/// Takes the transaction-level advisory lock of order `order_id`. Postgres releases it when
/// the transaction ends.
pub async fn lock_order(conn: &mut PgConnection, order_id: &str) -> Result<(), DbError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(ORDER_LOCK_CLASS)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Returns the state of order `order_id` from its latest applied OrderStatusChanged, if any.
/// Call it under [`lock_order`].
pub async fn recorded_state(
    conn: &mut PgConnection,
    order_id: &str,
) -> Result<Option<String>, DbError> {
    let state = sqlx::query_scalar("SELECT status FROM order_statuses WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(state)
}

/// Takes the advisory locks of every order of `order_ids`, as [`lock_order`] does. They are
/// taken in sorted order, so two calls of this function cannot deadlock on each other.
pub async fn lock_orders(conn: &mut PgConnection, order_ids: &[&str]) -> Result<(), DbError> {
    let mut sorted = order_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, hashtext(order_id))
         FROM unnest($2::text[]) WITH ORDINALITY AS locked (order_id, position)
         ORDER BY position",
    )
    .bind(ORDER_LOCK_CLASS)
    .bind(&sorted)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Returns the recorded state of each order of `order_ids` that has one, by order id. Call it
/// under [`lock_orders`].
pub async fn recorded_states(
    conn: &mut PgConnection,
    order_ids: &[&str],
) -> Result<HashMap<String, String>, DbError> {
    let states: Vec<(String, String)> =
        sqlx::query_as("SELECT order_id, status FROM order_statuses WHERE order_id = ANY($1)")
            .bind(order_ids)
            .fetch_all(&mut *conn)
            .await?;
    Ok(states.into_iter().collect())
}

/// Records `state` as the state of order `order_id` unless a change with the same or a
/// higher envelope `sequence` is recorded already. Returns whether it was recorded.
async fn record_state(
    conn: &mut PgConnection,
    order_id: &str,
    state: &str,
    sequence: i64,
    now: OffsetDateTime,
) -> Result<bool, DbError> {
    let written = sqlx::query(
        "INSERT INTO order_statuses (order_id, status, sequence, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (order_id) DO UPDATE
         SET status = EXCLUDED.status, sequence = EXCLUDED.sequence,
             updated_at = EXCLUDED.updated_at
         WHERE order_statuses.sequence < EXCLUDED.sequence",
    )
    .bind(order_id)
    .bind(state)
    .bind(sequence)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(written == 1)
}
