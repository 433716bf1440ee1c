//! The inventory state of an order: whether its certificate is in the inventory, stored in the
//! `inventory_*` columns of `orders` from the inventory's events.

use sqlx::PgConnection;
use uuid::Uuid;

/// `inventory_state` of an order whose certificate the inventory holds.
pub const IN_INVENTORY: &str = "in_inventory";
/// `inventory_state` of an order whose certificate the inventory stored as waiting.
pub const WAITING: &str = "waiting";

/// The `inventory_*` columns as [`super::orders::OrderRow`] reads them; every field is `None`
/// until the inventory reported on the order's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct InventoryColumns {
    /// [`IN_INVENTORY`] or [`WAITING`].
    pub inventory_state: Option<String>,
    /// Reason the certificate waits, such as `license_limit`.
    pub inventory_reason: Option<String>,
    /// The inventory's message about the waiting certificate, with what to do.
    pub inventory_message: Option<String>,
}

/// A report of the inventory about a certificate: held or waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryReport {
    /// Held: stored within the license, or admitted later (CertificateAddedToInventory).
    InInventory,
    /// Stored as waiting (CertificateRejected).
    Waiting { reason: String, message: String },
}

/// Result of [`record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded,
    /// No order has the id.
    UnknownOrder,
    /// The order has another certificate, or none.
    OtherCertificate {
        order_certificate_id: Option<Uuid>,
    },
    /// An event with the same or a higher sequence was recorded already.
    Stale {
        recorded_sequence: i64,
    },
}

/// One report of a batch for [`record_many`].
#[derive(Debug, Clone)]
pub struct BatchReport {
    pub order_id: Uuid,
    pub certificate_id: Uuid,
    pub report: InventoryReport,
    pub sequence: i64,
}

/// An order that [`record_many`] updated, with what the issuance latency needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordedOrder {
    pub id: Uuid,
    pub source: String,
    pub product: String,
    pub created_at: time::OffsetDateTime,
}

/// Records each of `reports` as [`record`] does, with one statement for all. The orders must
/// be distinct. Returns the orders it updated. A report whose order was not updated has one of
/// the other outcomes of [`record`], so the caller records it alone to learn which.
pub async fn record_many(
    conn: &mut PgConnection,
    reports: &[BatchReport],
) -> Result<Vec<RecordedOrder>, sqlx::Error> {
    let mut order_ids = Vec::with_capacity(reports.len());
    let mut certificate_ids = Vec::with_capacity(reports.len());
    let mut states = Vec::with_capacity(reports.len());
    let mut reasons = Vec::with_capacity(reports.len());
    let mut messages = Vec::with_capacity(reports.len());
    let mut sequences = Vec::with_capacity(reports.len());
    for batch_report in reports {
        let (state, reason, message) = columns(&batch_report.report);
        order_ids.push(batch_report.order_id);
        certificate_ids.push(batch_report.certificate_id);
        states.push(state);
        reasons.push(reason);
        messages.push(message);
        sequences.push(batch_report.sequence);
    }

    sqlx::query_as(
        "UPDATE orders
         SET inventory_state = reported.state, inventory_reason = reported.reason,
             inventory_message = reported.message, inventory_sequence = reported.sequence
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[])
              AS reported (order_id, certificate_id, state, reason, message, sequence)
         WHERE orders.id = reported.order_id AND orders.certificate_id = reported.certificate_id
           AND (orders.inventory_sequence IS NULL
                OR orders.inventory_sequence < reported.sequence)
         RETURNING orders.id, orders.source, orders.product, orders.created_at",
    )
    .bind(&order_ids)
    .bind(&certificate_ids)
    .bind(&states)
    .bind(&reasons)
    .bind(&messages)
    .bind(&sequences)
    .fetch_all(conn)
    .await
}

/// Returns the `inventory_state`, `inventory_reason` and `inventory_message` of `report`.
fn columns(report: &InventoryReport) -> (&'static str, Option<&str>, Option<&str>) {
    match report {
        InventoryReport::InInventory => (IN_INVENTORY, None, None),
        InventoryReport::Waiting { reason, message } => {
            (WAITING, Some(reason.as_str()), Some(message.as_str()))
        }
    }
}

/// Records `report` about certificate `certificate_id` on order `order_id`, unless the order
/// has another certificate or an event of the certificate with the same or a higher envelope
/// `sequence` is recorded already.
///
/// The check and the write are one conditional `UPDATE`. Postgres re-evaluates its condition
/// after a concurrent transaction on the row commits, so two events of the same order recorded
/// at the same time leave the one with the higher sequence.
pub async fn record(
    conn: &mut PgConnection,
    order_id: Uuid,
    certificate_id: Uuid,
    report: &InventoryReport,
    sequence: i64,
) -> Result<RecordOutcome, sqlx::Error> {
    let (state, reason, message) = columns(report);
    let updated = sqlx::query(
        "UPDATE orders
         SET inventory_state = $3, inventory_reason = $4, inventory_message = $5,
             inventory_sequence = $6
         WHERE id = $1 AND certificate_id = $2
           AND (inventory_sequence IS NULL OR inventory_sequence < $6)",
    )
    .bind(order_id)
    .bind(certificate_id)
    .bind(state)
    .bind(reason)
    .bind(message)
    .bind(sequence)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(RecordOutcome::Recorded);
    }

    let stored: Option<(Option<Uuid>, Option<i64>)> =
        sqlx::query_as("SELECT certificate_id, inventory_sequence FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    let outcome = match stored {
        None => RecordOutcome::UnknownOrder,
        Some((order_certificate_id, _)) if order_certificate_id != Some(certificate_id) => {
            RecordOutcome::OtherCertificate {
                order_certificate_id,
            }
        }
        Some((_, recorded_sequence)) => RecordOutcome::Stale {
            recorded_sequence: recorded_sequence.unwrap_or_default(),
        },
    };
    Ok(outcome)
}
