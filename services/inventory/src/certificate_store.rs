//! The `certificates` table: inserting a certificate once, following its order's state, reading
//! one, and paging newest first.

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
    /// Its order is REVOKED.
    Revoked,
    /// Its order is SUSPENDED.
    Suspended,
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
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Suspended => "suspended",
        }
    }
}

/// The status that the state of a certificate's order gives the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusRule {
    /// The order is REVOKED.
    Revoked,
    /// The order is SUSPENDED.
    Suspended,
    /// The order is ISSUED or EXPIRED: active until `not_after`, expired from then on.
    ByValidity,
}

impl StatusRule {
    /// Returns the rule for a Certitude order state such as `REVOKED`. Returns `None` for an
    /// empty state and for states that do not describe an issued certificate, such as PENDING,
    /// SUPERSEDED, DEACTIVATED or UNKNOWN.
    pub fn for_order_state(state: &str) -> Option<Self> {
        match state {
            "REVOKED" => Some(StatusRule::Revoked),
            "SUSPENDED" => Some(StatusRule::Suspended),
            "ISSUED" | "EXPIRED" => Some(StatusRule::ByValidity),
            _ => None,
        }
    }

    /// Returns the status of a certificate valid until `not_after`, at `now`.
    pub fn status_at(self, not_after: OffsetDateTime, now: OffsetDateTime) -> CertificateStatus {
        match self {
            StatusRule::Revoked => CertificateStatus::Revoked,
            StatusRule::Suspended => CertificateStatus::Suspended,
            StatusRule::ByValidity => CertificateStatus::at(not_after, now),
        }
    }

    /// Returns the status the rule sets regardless of validity, or `None` for `ByValidity`.
    fn fixed_status(self) -> Option<CertificateStatus> {
        match self {
            StatusRule::Revoked => Some(CertificateStatus::Revoked),
            StatusRule::Suspended => Some(CertificateStatus::Suspended),
            StatusRule::ByValidity => None,
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

/// Applies `rule` at `now` to every certificate of order `order_id` and returns how many
/// changed status.
pub async fn apply_order_rule(
    conn: &mut PgConnection,
    order_id: &str,
    rule: StatusRule,
    now: OffsetDateTime,
) -> Result<u64, DbError> {
    let fixed = rule.fixed_status().map(CertificateStatus::as_str);
    let changed = sqlx::query(
        "UPDATE certificates
         SET status = COALESCE($2, CASE WHEN not_after <= $3 THEN 'expired' ELSE 'active' END)
         WHERE order_id = $1
           AND status <> COALESCE($2, CASE WHEN not_after <= $3 THEN 'expired' ELSE 'active' END)",
    )
    .bind(order_id)
    .bind(fixed)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed)
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
