//! `order_history`: one row per step of an order, written in the transaction of the step.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::state::OrderState;

/// One step of an order.
#[derive(Debug, Clone)]
pub struct HistoryEntry<'a> {
    pub order_id: Uuid,
    pub at: OffsetDateTime,
    /// The caller's name for requests; `poller`, `reconciler` or `import` for tasks.
    pub actor: &'a str,
    /// Kind of step, such as `create`, `submit`, `poll`, `reconcile`, `import`, `approve`,
    /// `renew` or `delete`.
    pub action: &'a str,
    pub from_status: Option<OrderState>,
    pub to_status: Option<OrderState>,
    /// Result of the step, such as `issued`, `pending`, `rejected` or `unknown`.
    pub outcome: &'a str,
    pub detail: Option<String>,
}

/// Appends `entry` on `conn`, inside the caller's transaction.
pub async fn record(conn: &mut PgConnection, entry: HistoryEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_history
             (order_id, at, actor, action, from_status, to_status, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.order_id)
    .bind(entry.at)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.from_status.map(OrderState::as_str))
    .bind(entry.to_status.map(OrderState::as_str))
    .bind(entry.outcome)
    .bind(entry.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends `entries` with one statement, inside the caller's transaction.
pub async fn record_many(
    conn: &mut PgConnection,
    entries: &[HistoryEntry<'_>],
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let status = |value: Option<OrderState>| value.map(OrderState::as_str);
    sqlx::query(
        "INSERT INTO order_history
             (order_id, at, actor, action, from_status, to_status, outcome, detail)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[],
                              $5::text[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(entries.iter().map(|e| e.order_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.actor).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.action).collect::<Vec<_>>())
    .bind(
        entries
            .iter()
            .map(|e| status(e.from_status))
            .collect::<Vec<_>>(),
    )
    .bind(
        entries
            .iter()
            .map(|e| status(e.to_status))
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|e| e.outcome).collect::<Vec<_>>())
    .bind(
        entries
            .iter()
            .map(|e| e.detail.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One stored step of an order, as [`list`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryRow {
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Returns every step of the order `order_id`, oldest first.
pub async fn list(pool: &PgPool, order_id: Uuid) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor, action, from_status, to_status, outcome, detail
         FROM order_history WHERE order_id = $1 ORDER BY at, id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
}
