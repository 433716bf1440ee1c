//! The reads of the portal reconcile: which credentials have orders to compare, and those
//! orders by tracking id. Only ISSUED and SUSPENDED orders that Entrust accepted (they have a
//! tracking id) and that were not deleted are compared.

use sqlx::PgPool;

use super::orders::{COLUMNS, OrderRow};

/// Returns every credential with at least one order to compare, in name order.
pub async fn credentials(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT credential_id FROM orders
         WHERE status IN ('ISSUED', 'SUSPENDED') AND deleted_at IS NULL
           AND tracking_id IS NOT NULL
         ORDER BY credential_id",
    )
    .fetch_all(pool)
    .await
}

/// Returns the orders of `credential_id` to compare among those with one of `tracking_ids`.
pub async fn compared_orders(
    pool: &PgPool,
    credential_id: &str,
    tracking_ids: &[i64],
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let statement = format!(
        "SELECT {COLUMNS} FROM orders
         WHERE credential_id = $1 AND tracking_id = ANY($2)
           AND status IN ('ISSUED', 'SUSPENDED') AND deleted_at IS NULL"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(credential_id)
        .bind(tracking_ids)
        .fetch_all(pool)
        .await
}

/// Returns the tracking ids of `credential_id`'s SUSPENDED orders, in ascending order.
pub async fn suspended_tracking_ids(
    pool: &PgPool,
    credential_id: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT tracking_id FROM orders
         WHERE credential_id = $1 AND status = 'SUSPENDED' AND deleted_at IS NULL
           AND tracking_id IS NOT NULL
         ORDER BY tracking_id",
    )
    .bind(credential_id)
    .fetch_all(pool)
    .await
}
