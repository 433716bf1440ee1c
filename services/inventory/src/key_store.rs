//! The `keys` table: key pairs with their private key sealed, looked up by idempotency key.

use certitude_platform::db::DbError;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::keys::CsrSubject;

/// Table and column the sealed private key lives in, bound into the sealed blob's associated
/// data together with the row id.
pub const KEYS_TABLE: &str = "keys";
pub const PRIVATE_KEY_COLUMN: &str = "private_key";

/// A stored key pair, without its private key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: Uuid,
    /// Stable algorithm name, such as `ECDSA_P256`.
    pub algorithm: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    /// SubjectPublicKeyInfo DER.
    pub public_key_spki: Vec<u8>,
    pub csr_pem: String,
    pub created_at: OffsetDateTime,
}

impl KeyRecord {
    /// Returns whether this key was made for `algorithm` and `subject`, so that a repeated
    /// request with the same idempotency key may return it.
    pub fn matches(&self, algorithm: &str, subject: &CsrSubject) -> bool {
        self.algorithm == algorithm
            && self.common_name == subject.common_name
            && self.dns_names == subject.dns_names
            && self.organization == subject.organization
    }
}

/// A key pair to insert: its private key already sealed for this row.
pub struct NewKey<'a> {
    pub id: Uuid,
    pub idempotency_key: &'a str,
    pub algorithm: &'a str,
    pub subject: &'a CsrSubject,
    pub sealed_private_key: &'a [u8],
    pub public_key_spki: &'a [u8],
    pub csr_pem: &'a str,
    pub created_at: OffsetDateTime,
}

/// Returns the key made for `idempotency_key`, if any.
pub async fn find_by_idempotency_key(
    executor: impl PgExecutor<'_>,
    idempotency_key: &str,
) -> Result<Option<KeyRecord>, DbError> {
    let record = sqlx::query_as(
        "SELECT id, algorithm, common_name, dns_names, organization, public_key_spki, csr_pem,
                created_at
         FROM keys WHERE idempotency_key = $1",
    )
    .bind(idempotency_key)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Inserts `key` unless a key with its idempotency key exists. Returns the inserted record, or
/// `None` when another call stored a key for that idempotency key first.
pub async fn insert_if_absent(
    executor: impl PgExecutor<'_>,
    key: &NewKey<'_>,
) -> Result<Option<KeyRecord>, DbError> {
    let record = sqlx::query_as(
        "INSERT INTO keys (id, idempotency_key, algorithm, common_name, dns_names, organization,
                           private_key, public_key_spki, csr_pem, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id, algorithm, common_name, dns_names, organization, public_key_spki, csr_pem,
                   created_at",
    )
    .bind(key.id)
    .bind(key.idempotency_key)
    .bind(key.algorithm)
    .bind(&key.subject.common_name)
    .bind(&key.subject.dns_names)
    .bind(&key.subject.organization)
    .bind(key.sealed_private_key)
    .bind(key.public_key_spki)
    .bind(key.csr_pem)
    .bind(key.created_at)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Returns the SubjectPublicKeyInfo DER of key `id`, if the key exists.
pub async fn public_key(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Vec<u8>>, DbError> {
    let spki = sqlx::query_scalar("SELECT public_key_spki FROM keys WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await?;
    Ok(spki)
}
