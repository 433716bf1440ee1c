//! The `certificate_expiries` table: one row per certificate, inserted once; the renewal
//! schedule on it lives in [`crate::schedule_store`].

use certitude_platform::db::DbError;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

/// The recorded expiry of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CertificateExpiry {
    pub certificate_id: Uuid,
    pub order_id: Option<String>,
    pub not_after: OffsetDateTime,
    pub recorded_at: OffsetDateTime,
    pub renew_at: Option<OffsetDateTime>,
}

/// A certificate to record, with the lineage and warning state it starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub certificate_id: Uuid,
    pub order_id: Option<String>,
    pub credential_id: Option<String>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: OffsetDateTime,
    pub recorded_at: OffsetDateTime,
    pub generation: i32,
    pub replaces_certificate_id: Option<Uuid>,
    pub next_warning_at: Option<OffsetDateTime>,
}

/// Records `expiry` unless the certificate already has a row. Returns whether a row was
/// written.
pub async fn record(
    executor: impl PgExecutor<'_>,
    expiry: &NewCertificate,
) -> Result<bool, DbError> {
    let written = sqlx::query(
        "INSERT INTO certificate_expiries (certificate_id, order_id, credential_id, not_before,
             not_after, recorded_at, generation, replaces_certificate_id, next_warning_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (certificate_id) DO NOTHING",
    )
    .bind(expiry.certificate_id)
    .bind(&expiry.order_id)
    .bind(&expiry.credential_id)
    .bind(expiry.not_before)
    .bind(expiry.not_after)
    .bind(expiry.recorded_at)
    .bind(expiry.generation)
    .bind(expiry.replaces_certificate_id)
    .bind(expiry.next_warning_at)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(written == 1)
}

/// Records each of `expiries` as [`record`] does, with one statement for all. Returns the ids
/// of the certificates it wrote a row for.
pub async fn record_many(
    executor: impl PgExecutor<'_>,
    expiries: &[NewCertificate],
) -> Result<Vec<Uuid>, DbError> {
    let written = sqlx::query_scalar(
        "INSERT INTO certificate_expiries (certificate_id, order_id, credential_id, not_before,
             not_after, recorded_at, generation, replaces_certificate_id, next_warning_at)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
             $5::timestamptz[], $6::timestamptz[], $7::int[], $8::uuid[], $9::timestamptz[])
         ON CONFLICT (certificate_id) DO NOTHING
         RETURNING certificate_id",
    )
    .bind(
        expiries
            .iter()
            .map(|e| e.certificate_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        expiries
            .iter()
            .map(|e| e.order_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        expiries
            .iter()
            .map(|e| e.credential_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(expiries.iter().map(|e| e.not_before).collect::<Vec<_>>())
    .bind(expiries.iter().map(|e| e.not_after).collect::<Vec<_>>())
    .bind(expiries.iter().map(|e| e.recorded_at).collect::<Vec<_>>())
    .bind(expiries.iter().map(|e| e.generation).collect::<Vec<_>>())
    .bind(
        expiries
            .iter()
            .map(|e| e.replaces_certificate_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        expiries
            .iter()
            .map(|e| e.next_warning_at)
            .collect::<Vec<_>>(),
    )
    .fetch_all(executor)
    .await?;
    Ok(written)
}

/// Returns the recorded expiry of certificate `certificate_id`, if any.
pub async fn get(
    executor: impl PgExecutor<'_>,
    certificate_id: Uuid,
) -> Result<Option<CertificateExpiry>, DbError> {
    let expiry = sqlx::query_as(
        "SELECT certificate_id, order_id, not_after, recorded_at, renew_at
         FROM certificate_expiries WHERE certificate_id = $1",
    )
    .bind(certificate_id)
    .fetch_optional(executor)
    .await?;
    Ok(expiry)
}
