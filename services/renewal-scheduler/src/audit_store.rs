//! The Auto-Renewal Audit: one row per renewal attempt, listed newest first.

use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

/// One renewal attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// UUIDv7, so ids sort by creation.
    pub id: Uuid,
    pub attempted_at: OffsetDateTime,
    pub policy_id: Uuid,
    pub order_id: Option<Uuid>,
    pub certificate_id: Uuid,
    pub new_order_id: Option<Uuid>,
    pub new_certificate_id: Option<Uuid>,
    /// `succeeded`, `failed`, `gave_up`, `rescheduled` or `replaced`.
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub attempt: i32,
}

/// Inserts `entry`.
pub async fn insert(conn: &mut PgConnection, entry: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO renewal_audit (id, attempted_at, policy_id, order_id, certificate_id,
             new_order_id, new_certificate_id, outcome, error, duration_ms, attempt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(entry.id)
    .bind(entry.attempted_at)
    .bind(entry.policy_id)
    .bind(entry.order_id)
    .bind(entry.certificate_id)
    .bind(entry.new_order_id)
    .bind(entry.new_certificate_id)
    .bind(&entry.outcome)
    .bind(&entry.error)
    .bind(entry.duration_ms)
    .bind(entry.attempt)
    .execute(conn)
    .await?;
    Ok(())
}

/// Fills in the new certificate of the attempts that placed `new_order_id`, once its
/// certificate was issued.
pub async fn set_new_certificate(
    conn: &mut PgConnection,
    new_order_id: Uuid,
    new_certificate_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE renewal_audit SET new_certificate_id = $2
         WHERE new_order_id = $1 AND new_certificate_id IS NULL",
    )
    .bind(new_order_id)
    .bind(new_certificate_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Does what [`set_new_certificate`] does for each (new order id, new certificate id) pair of
/// `certificates`, with one statement. The order ids must be distinct.
pub async fn set_new_certificates(
    conn: &mut PgConnection,
    certificates: &[(Uuid, Uuid)],
) -> Result<(), sqlx::Error> {
    let (new_order_ids, new_certificate_ids): (Vec<Uuid>, Vec<Uuid>) =
        certificates.iter().copied().unzip();
    sqlx::query(
        "UPDATE renewal_audit SET new_certificate_id = placed.certificate_id
         FROM unnest($1::uuid[], $2::uuid[]) AS placed (order_id, certificate_id)
         WHERE renewal_audit.new_order_id = placed.order_id
           AND renewal_audit.new_certificate_id IS NULL",
    )
    .bind(&new_order_ids)
    .bind(&new_certificate_ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Filters of a listing; `None` matches every value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub order_id: Option<Uuid>,
    pub certificate_id: Option<Uuid>,
    pub policy_id: Option<Uuid>,
    pub outcome: Option<String>,
    /// Entries older than this id only: the cursor of the next page.
    pub before_id: Option<Uuid>,
}

/// Lists up to `limit` entries matching `filter`, newest first.
pub async fn list(
    executor: impl PgExecutor<'_>,
    filter: &AuditFilter,
    limit: u32,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, attempted_at, policy_id, order_id, certificate_id, new_order_id,
             new_certificate_id, outcome, error, duration_ms, attempt
         FROM renewal_audit WHERE true",
    );
    if let Some(order_id) = filter.order_id {
        query.push(" AND (order_id = ").push_bind(order_id);
        query
            .push(" OR new_order_id = ")
            .push_bind(order_id)
            .push(")");
    }
    if let Some(certificate_id) = filter.certificate_id {
        query
            .push(" AND certificate_id = ")
            .push_bind(certificate_id);
    }
    if let Some(policy_id) = filter.policy_id {
        query.push(" AND policy_id = ").push_bind(policy_id);
    }
    if let Some(outcome) = &filter.outcome {
        query.push(" AND outcome = ").push_bind(outcome.clone());
    }
    if let Some(before_id) = filter.before_id {
        query.push(" AND id < ").push_bind(before_id);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit));
    query.build_query_as().fetch_all(executor).await
}
