//! Changing and deleting rows of the `credentials` table, on a connection inside the caller's
//! transaction so that each change commits with its event.

use certitude_platform::db::DbError;
use certitude_platform::seal::Keyring;
use secrecy::ExposeSecret;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::store::{CredentialRow, columns, name_conflict, secret_aad};
use super::{Credential, CredentialUpdate, IdentityChange};
use crate::error::ServiceError;

/// Applies `update` to the credential at `now`, sealing the new secrets, and returns the
/// credential as stored. Setting `is_administrator` also clears the record of a refused
/// administrator action. Fails with NOT_FOUND when the credential is gone and with
/// [`ServiceError::NameTaken`] when another credential has the new name.
pub(super) async fn update(
    conn: &mut PgConnection,
    keyring: &Keyring,
    id: Uuid,
    update: &CredentialUpdate,
    now: OffsetDateTime,
) -> Result<Credential, ServiceError> {
    let api_key = match &update.api_key {
        Some(key) => {
            Some(keyring.seal(key.expose_secret().as_bytes(), &secret_aad(id, "api_key"))?)
        }
        None => None,
    };
    let (replace_identity, certificate_pem, client_key) = match &update.client_identity {
        IdentityChange::Keep => (false, None, None),
        IdentityChange::Remove => (true, None, None),
        IdentityChange::Replace {
            certificate_pem,
            key_pem,
        } => {
            let sealed = keyring.seal(
                key_pem.expose_secret().as_bytes(),
                &secret_aad(id, "client_key"),
            )?;
            (true, Some(certificate_pem.as_str()), Some(sealed))
        }
    };

    let row: Option<CredentialRow> = sqlx::query_as(concat!(
        "UPDATE credentials
         SET name = COALESCE($2, name),
             api_key = COALESCE($3, api_key),
             client_certificate_pem = CASE WHEN $4 THEN $5 ELSE client_certificate_pem END,
             client_key = CASE WHEN $4 THEN $6 ELSE client_key END,
             is_administrator = COALESCE($7, is_administrator),
             administrator_right_missing_since =
                 CASE WHEN $7 IS NULL THEN administrator_right_missing_since END,
             denied_administrator_action =
                 CASE WHEN $7 IS NULL THEN denied_administrator_action END,
             updated_at = $8
         WHERE id = $1
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(update.name.as_deref())
    .bind(api_key)
    .bind(replace_identity)
    .bind(certificate_pem)
    .bind(client_key)
    .bind(update.is_administrator)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|error| name_conflict(DbError::from(error), update.name.as_deref().unwrap_or("")))?;
    row.map(Credential::from)
        .ok_or_else(|| ServiceError::not_found("credential", id.to_string()))
}

/// Records at `now` that Entrust refused `action` with the credential, unless a refusal is
/// already recorded. Returns the credential as changed, or `None` when it was already marked
/// or does not exist.
pub(super) async fn mark_administrator_right_missing(
    conn: &mut PgConnection,
    id: Uuid,
    action: &str,
    now: OffsetDateTime,
) -> Result<Option<Credential>, DbError> {
    let row: Option<CredentialRow> = sqlx::query_as(concat!(
        "UPDATE credentials
         SET administrator_right_missing_since = $2, denied_administrator_action = $3,
             updated_at = $2
         WHERE id = $1 AND administrator_right_missing_since IS NULL
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(now)
    .bind(action)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Credential::from))
}

/// Deletes the credential with its sealed secrets, its catalog and its sync runs. Returns the
/// credential as it was, or `None` when it does not exist.
///
/// The credential's row goes first: that waits for a sync that locked it, so the catalog
/// deletions that follow also see the entries that sync wrote. Sync runs go with the row
/// (`ON DELETE CASCADE`).
pub(super) async fn delete(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Credential>, DbError> {
    let row: Option<CredentialRow> = sqlx::query_as(concat!(
        "DELETE FROM credentials WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    for statement in [
        "DELETE FROM organizations WHERE credential_id = $1",
        "DELETE FROM domains WHERE credential_id = $1",
        "DELETE FROM products WHERE credential_id = $1",
    ] {
        sqlx::query(statement).bind(id).execute(&mut *conn).await?;
    }
    Ok(row.map(Credential::from))
}
