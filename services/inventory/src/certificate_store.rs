//! The `certificates` table: inserting a certificate once, reading one, and paging newest first.

use certitude_platform::db::DbError;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certificate::CertificateFacts;

/// Outcome of verifying the links of a certificate's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStatus {
    /// Each certificate is signed by the next one.
    Verified,
    /// A certificate is not signed by the next one.
    Broken,
    /// No issuer certificate was given.
    Missing,
}

impl ChainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Verified => "verified",
            ChainStatus::Broken => "broken",
            ChainStatus::Missing => "missing",
        }
    }
}

/// Lifecycle status of a stored certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    Active,
    Expired,
}

impl CertificateStatus {
    /// Returns `Expired` once `now` has reached `not_after`, else `Active`.
    pub fn at(not_after: OffsetDateTime, now: OffsetDateTime) -> Self {
        if not_after <= now {
            CertificateStatus::Expired
        } else {
            CertificateStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "active",
            CertificateStatus::Expired => "expired",
        }
    }
}

/// Origin of a certificate in the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// It came with an order id.
    Order,
    /// It came without one.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Order => "order",
            Source::Import => "import",
        }
    }
}

/// A certificate to insert.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub id: Uuid,
    pub order_id: Option<String>,
    pub tracking_id: Option<i64>,
    pub credential_id: Option<String>,
    pub key_id: Option<Uuid>,
    pub replaces_certificate_id: Option<Uuid>,
    pub facts: CertificateFacts,
    pub certificate_pem: String,
    /// Issuer certificates in PEM, nearest issuer first.
    pub chain_pem: Vec<String>,
    pub chain_status: ChainStatus,
    pub status: CertificateStatus,
    pub source: Source,
    pub created_at: OffsetDateTime,
}

/// Result of [`insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// A certificate with the same id exists; nothing was written.
    SameId,
    /// The same certificate (SHA-256 fingerprint) exists under another id; nothing was written.
    SameFingerprint {
        existing_id: Uuid,
    },
}

/// A stored certificate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CertificateRecord {
    pub id: Uuid,
    pub order_id: Option<String>,
    pub tracking_id: Option<i64>,
    pub credential_id: Option<String>,
    pub key_id: Option<Uuid>,
    pub replaces_certificate_id: Option<Uuid>,
    pub subject: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub issuer: String,
    pub serial_number: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key_type: String,
    pub key_bits: i32,
    pub signature_algorithm: String,
    pub sha256_fingerprint: String,
    pub certificate_pem: String,
    pub chain_pem: Vec<String>,
    pub chain_status: String,
    pub status: String,
    pub source: String,
    pub created_at: OffsetDateTime,
}

/// Position of a certificate in the newest-first order: after it come older certificates, and
/// among equal `created_at`, smaller ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

/// Inserts `certificate` unless one with its id or fingerprint exists.
pub async fn insert(
    conn: &mut PgConnection,
    certificate: &NewCertificate,
) -> Result<InsertOutcome, DbError> {
    let facts = &certificate.facts;
    let inserted = sqlx::query(
        "INSERT INTO certificates (
             id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id, subject,
             common_name, dns_names, issuer, serial_number, not_before, not_after, key_type,
             key_bits, signature_algorithm, sha256_fingerprint, certificate_pem, chain_pem,
             chain_status, status, source, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23)
         ON CONFLICT DO NOTHING",
    )
    .bind(certificate.id)
    .bind(&certificate.order_id)
    .bind(certificate.tracking_id)
    .bind(&certificate.credential_id)
    .bind(certificate.key_id)
    .bind(certificate.replaces_certificate_id)
    .bind(&facts.subject)
    .bind(&facts.common_name)
    .bind(&facts.dns_names)
    .bind(&facts.issuer)
    .bind(&facts.serial_number)
    .bind(facts.not_before)
    .bind(facts.not_after)
    .bind(&facts.key_type)
    .bind(i32::try_from(facts.key_bits).unwrap_or(0))
    .bind(&facts.signature_algorithm)
    .bind(&facts.sha256_fingerprint)
    .bind(&certificate.certificate_pem)
    .bind(&certificate.chain_pem)
    .bind(certificate.chain_status.as_str())
    .bind(certificate.status.as_str())
    .bind(certificate.source.as_str())
    .bind(certificate.created_at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(InsertOutcome::Inserted);
    }

    let existing_id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM certificates WHERE sha256_fingerprint = $1")
            .bind(&facts.sha256_fingerprint)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match existing_id {
        Some(existing_id) if existing_id != certificate.id => {
            InsertOutcome::SameFingerprint { existing_id }
        }
        _ => InsertOutcome::SameId,
    })
}

/// Returns certificate `id`, if it exists.
pub async fn get(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<CertificateRecord>, DbError> {
    let record = sqlx::query_as("SELECT * FROM certificates WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await?;
    Ok(record)
}

/// Returns up to `limit` certificates, newest first, starting after `after` (from the newest
/// when `None`). Uses the `(created_at, id)` index, so the cost does not grow with the offset.
pub async fn list_page(
    executor: impl PgExecutor<'_>,
    after: Option<Position>,
    limit: u32,
) -> Result<Vec<CertificateRecord>, DbError> {
    let records = match after {
        None => {
            sqlx::query_as("SELECT * FROM certificates ORDER BY created_at DESC, id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(executor)
                .await?
        }
        Some(position) => {
            sqlx::query_as(
                "SELECT * FROM certificates
                 WHERE (created_at, id) < ($1, $2)
                 ORDER BY created_at DESC, id DESC
                 LIMIT $3",
            )
            .bind(position.created_at)
            .bind(position.id)
            .bind(i64::from(limit))
            .fetch_all(executor)
            .await?
        }
    };
    Ok(records)
}
