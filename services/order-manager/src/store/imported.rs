//! Statements of imports on `orders`: inserting an order found at Entrust, and recording what a
//! later import learns about a known one.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::orders::{COLUMNS, OrderRow};
use crate::state::OrderState;

/// An order found by an import, to insert.
#[derive(Debug, Clone)]
pub struct ImportedOrderRow {
    pub id: Uuid,
    pub credential_id: String,
    pub tracking_id: i64,
    pub product: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    pub status: OrderState,
    pub entrust_status: String,
    pub certificate_id: Option<Uuid>,
    pub serial_number: Option<String>,
    pub not_after: Option<OffsetDateTime>,
    /// When Entrust issued the certificate, as listed.
    pub not_before: Option<OffsetDateTime>,
    /// First check by the poller, for an order not yet issued.
    pub next_poll_at: Option<OffsetDateTime>,
}

/// Returns the orders of `credential_id` with one of `tracking_ids`, deleted ones included.
pub async fn find_by_tracking_ids(
    conn: &mut PgConnection,
    credential_id: &str,
    tracking_ids: &[i64],
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let statement =
        format!("SELECT {COLUMNS} FROM orders WHERE credential_id = $1 AND tracking_id = ANY($2)");
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(credential_id)
        .bind(tracking_ids)
        .fetch_all(conn)
        .await
}

/// Returns those of `markers` that an order still being submitted carries: such an order is
/// the reconciler's to adopt, not an import's to add.
pub async fn markers_awaiting_adoption(
    conn: &mut PgConnection,
    markers: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT submission_marker FROM orders
         WHERE submission_marker = ANY($1) AND tracking_id IS NULL",
    )
    .bind(markers)
    .fetch_all(conn)
    .await
}

/// Inserts an imported order. Returns `false`, inserting nothing, when the credential already
/// has an order with the tracking id.
pub async fn insert_imported(
    conn: &mut PgConnection,
    order: &ImportedOrderRow,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO orders (id, credential_id, tracking_id, product, common_name, dns_names,
             organization, status, entrust_status, certificate_id, serial_number, not_after,
             source, next_poll_at, created_at, updated_at, not_before)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'imported', $13, $14, $14,
             $15)
         ON CONFLICT (credential_id, tracking_id) DO NOTHING",
    )
    .bind(order.id)
    .bind(&order.credential_id)
    .bind(order.tracking_id)
    .bind(&order.product)
    .bind(&order.common_name)
    .bind(&order.dns_names)
    .bind(&order.organization)
    .bind(order.status.as_str())
    .bind(&order.entrust_status)
    .bind(order.certificate_id)
    .bind(&order.serial_number)
    .bind(order.not_after)
    .bind(order.next_poll_at)
    .bind(now)
    .bind(order.not_before)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Inserts imported orders with one statement, as [`insert_imported`] does for each. Returns
/// the ids of the rows inserted: an order whose tracking id the credential already has is
/// left out.
pub async fn insert_imported_many(
    conn: &mut PgConnection,
    orders: &[ImportedOrderRow],
    now: OffsetDateTime,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let column = |value: fn(&ImportedOrderRow) -> Option<&str>| -> Vec<Option<&str>> {
        orders.iter().map(value).collect()
    };
    // Postgres arrays are rectangular, so each order's names travel as one JSON array.
    let dns_names: Vec<String> = orders
        .iter()
        .map(|order| serde_json::Value::from(order.dns_names.clone()).to_string())
        .collect();
    sqlx::query_scalar(
        "INSERT INTO orders (id, credential_id, tracking_id, product, common_name, dns_names,
             organization, status, entrust_status, certificate_id, serial_number, not_after,
             source, next_poll_at, created_at, updated_at, not_before)
         SELECT id, credential_id, tracking_id, product, common_name,
                ARRAY(SELECT jsonb_array_elements_text(dns_names::jsonb)),
                organization, status, entrust_status, certificate_id, serial_number, not_after,
                'imported', next_poll_at, $14, $14, not_before
         FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::uuid[], $11::text[],
                     $12::timestamptz[], $13::timestamptz[], $15::timestamptz[])
              AS imported (id, credential_id, tracking_id, product, common_name, dns_names,
                            organization, status, entrust_status, certificate_id, serial_number,
                            not_after, next_poll_at, not_before)
         ON CONFLICT (credential_id, tracking_id) DO NOTHING
         RETURNING id",
    )
    .bind(orders.iter().map(|order| order.id).collect::<Vec<_>>())
    .bind(column(|order| Some(&order.credential_id)))
    .bind(
        orders
            .iter()
            .map(|order| order.tracking_id)
            .collect::<Vec<_>>(),
    )
    .bind(column(|order| Some(&order.product)))
    .bind(column(|order| Some(&order.common_name)))
    .bind(&dns_names)
    .bind(column(|order| order.organization.as_deref()))
    .bind(column(|order| Some(order.status.as_str())))
    .bind(column(|order| Some(&order.entrust_status)))
    .bind(
        orders
            .iter()
            .map(|order| order.certificate_id)
            .collect::<Vec<_>>(),
    )
    .bind(column(|order| order.serial_number.as_deref()))
    .bind(
        orders
            .iter()
            .map(|order| order.not_after)
            .collect::<Vec<_>>(),
    )
    .bind(
        orders
            .iter()
            .map(|order| order.next_poll_at)
            .collect::<Vec<_>>(),
    )
    .bind(now)
    .bind(
        orders
            .iter()
            .map(|order| order.not_before)
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await
}

/// Records Entrust's latest status of an order whose state did not change.
pub async fn set_entrust_status(
    conn: &mut PgConnection,
    id: Uuid,
    entrust_status: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET entrust_status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(entrust_status)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives an order without a certificate the certificate `certificate_id`. Returns `false`,
/// changing nothing, when the order already has one.
pub async fn attach_certificate(
    conn: &mut PgConnection,
    id: Uuid,
    certificate_id: Uuid,
    serial_number: Option<&str>,
    not_after: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE orders
         SET certificate_id = $2, serial_number = COALESCE($3, serial_number),
             not_after = COALESCE($4, not_after), updated_at = $5
         WHERE id = $1 AND certificate_id IS NULL",
    )
    .bind(id)
    .bind(certificate_id)
    .bind(serial_number)
    .bind(not_after)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}
