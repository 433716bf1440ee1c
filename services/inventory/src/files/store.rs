//! SQL of imports and exports: imported keys, linking a key to a stored certificate, reading a
//! sealed key, and the `key_exports` audit table.

use certitude_platform::db::DbError;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::files::prepare::PreparedKey;

/// Stores an imported key unless a key with its public key exists. Returns the id of the key
/// with that public key and whether this call stored it.
pub(super) async fn store_imported_key(
    conn: &mut PgConnection,
    key: &PreparedKey,
    now: OffsetDateTime,
) -> Result<(Uuid, bool), DbError> {
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO keys (id, origin, algorithm, common_name, dns_names, private_key,
                           public_key_spki, created_at)
         VALUES ($1, 'import', $2, $3, $4, $5, $6, $7)
         ON CONFLICT (public_key_spki) DO NOTHING
         RETURNING id",
    )
    .bind(key.id)
    .bind(&key.algorithm)
    .bind(&key.common_name)
    .bind(&key.dns_names)
    .bind(&key.sealed_private_key)
    .bind(&key.public_key_spki)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let existing: Uuid = sqlx::query_scalar("SELECT id FROM keys WHERE public_key_spki = $1")
        .bind(&key.public_key_spki)
        .fetch_one(&mut *conn)
        .await?;
    Ok((existing, false))
}

/// Links key `key_id` to certificate `certificate_id` unless the certificate has a key, and
/// returns the certificate's key after that.
pub(super) async fn link_key_if_missing(
    conn: &mut PgConnection,
    certificate_id: Uuid,
    key_id: Uuid,
) -> Result<Option<Uuid>, DbError> {
    sqlx::query("UPDATE certificates SET key_id = $2 WHERE id = $1 AND key_id IS NULL")
        .bind(certificate_id)
        .bind(key_id)
        .execute(&mut *conn)
        .await?;
    certificate_key(&mut *conn, certificate_id).await
}

/// Returns the key linked to certificate `certificate_id`, if any.
pub(super) async fn certificate_key(
    executor: impl PgExecutor<'_>,
    certificate_id: Uuid,
) -> Result<Option<Uuid>, DbError> {
    let key_id: Option<Option<Uuid>> =
        sqlx::query_scalar("SELECT key_id FROM certificates WHERE id = $1")
            .bind(certificate_id)
            .fetch_optional(executor)
            .await?;
    Ok(key_id.flatten())
}

/// Returns the sealed private key of key `key_id`, if the key exists.
pub(super) async fn sealed_private_key(
    executor: impl PgExecutor<'_>,
    key_id: Uuid,
) -> Result<Option<Vec<u8>>, DbError> {
    let sealed = sqlx::query_scalar("SELECT private_key FROM keys WHERE id = $1")
        .bind(key_id)
        .fetch_optional(executor)
        .await?;
    Ok(sealed)
}

/// One row of the `key_exports` audit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyExport<'a> {
    pub certificate_id: Uuid,
    pub key_id: Uuid,
    pub actor: &'a str,
    /// `pem` or `pkcs12`.
    pub format: &'static str,
    /// `aes256` or `3des` for PKCS#12, `None` for PEM.
    pub encryption: Option<&'static str>,
    pub exported_at: OffsetDateTime,
}

/// Records a private key export and returns the audit row's id.
pub(super) async fn insert_key_export(
    executor: impl PgExecutor<'_>,
    export: &KeyExport<'_>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO key_exports (id, certificate_id, key_id, actor, format, encryption,
                                  exported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(export.certificate_id)
    .bind(export.key_id)
    .bind(export.actor)
    .bind(export.format)
    .bind(export.encryption)
    .bind(export.exported_at)
    .execute(executor)
    .await?;
    Ok(id)
}
