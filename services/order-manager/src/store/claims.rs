//! Claims on `orders`: the poller takes due orders with a lease and hands them back with their
//! next check scheduled; an administrator operation takes one order for its Entrust call.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::orders::{COLUMNS, OrderRow};
use crate::state::OrderState;

/// Claims up to `limit` SUBMITTING or PENDING orders that are due at `now` and not claimed by
/// another replica, until `claimed_until`. The claim commits at once, so no transaction stays
/// open while the claimed orders are checked at Entrust.
pub async fn claim_due(
    pool: &PgPool,
    now: OffsetDateTime,
    claimed_until: OffsetDateTime,
    limit: u32,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let statement = format!(
        "UPDATE orders SET claimed_until = $1
         WHERE id IN (
             SELECT id FROM orders
             WHERE status IN ('SUBMITTING', 'PENDING')
               AND next_poll_at <= $2
               AND deleted_at IS NULL
               AND (claimed_until IS NULL OR claimed_until < $2)
             ORDER BY next_poll_at
             LIMIT $3
             FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    );
    let mut rows: Vec<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(claimed_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.sort_by_key(|row| row.next_poll_at);
    Ok(rows)
}

/// Releases the claim on an order that is still in `expected` and schedules its next check
/// at `next_poll_at`, counting one more check and keeping Entrust's latest status when given.
/// Leaves an order that moved on untouched.
pub async fn release_until(
    pool: &PgPool,
    id: Uuid,
    expected: OrderState,
    next_poll_at: OffsetDateTime,
    entrust_status: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders
         SET claimed_until = NULL, next_poll_at = $3, poll_attempts = poll_attempts + 1,
             entrust_status = COALESCE($4, entrust_status), updated_at = $5
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(expected.as_str())
    .bind(next_poll_at)
    .bind(entrust_status)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Claims the order `id` for one administrator operation until `claimed_until`, when it is
/// still in `expected`, not deleted and not claimed by another replica or request at `now`.
/// Returns the claimed row, or `None`. The claim commits at once; a state change through
/// [`super::orders::change_state`] or [`release`] ends it.
pub async fn claim_for_action(
    pool: &PgPool,
    id: Uuid,
    expected: OrderState,
    now: OffsetDateTime,
    claimed_until: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "UPDATE orders SET claimed_until = $4
         WHERE id = $1 AND status = $2 AND deleted_at IS NULL
           AND (claimed_until IS NULL OR claimed_until < $3)
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(expected.as_str())
        .bind(now)
        .bind(claimed_until)
        .fetch_optional(pool)
        .await
}

/// Ends a claim of [`claim_for_action`] that lasts until `claimed_until`, without changing
/// the order. A claim that ended meanwhile, and any later claim, stay as they are.
pub async fn release(
    pool: &PgPool,
    id: Uuid,
    claimed_until: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET claimed_until = NULL WHERE id = $1 AND claimed_until = $2")
        .bind(id)
        .bind(claimed_until)
        .execute(pool)
        .await?;
    Ok(())
}
