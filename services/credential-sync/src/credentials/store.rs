//! The `credentials` table: inserting a credential with its secrets sealed and its
//! CredentialAdded event in one transaction, and reading credentials back. Changes and
//! deletion are in `changes`.

use certitude_platform::db::DbError;
use certitude_platform::outbox::{NewEvent, Outbox};
use certitude_platform::seal::{Keyring, record_aad};
use certitude_proto::events::v1::CredentialAdded;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Credential, MissingAdministratorRight, NewCredential, ResolvedCredential, TABLE};
use crate::error::ServiceError;
use crate::paging::{PageLimits, decode_token, encode_token};

/// Page sizes of ListCredentials.
pub const CREDENTIAL_PAGES: PageLimits = PageLimits {
    default: 50,
    max: 500,
};

/// Name of the unique constraint on `credentials.name`.
const NAME_CONSTRAINT: &str = "credentials_name_key";

/// The columns of [`CredentialRow`], as a literal so that queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, name, api_base_url, username, client_certificate_pem, is_administrator, \
         administrator_right_missing_since, denied_administrator_action, created_at, updated_at"
    };
}
pub(super) use columns;

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    id: Uuid,
    name: String,
    api_base_url: String,
    username: String,
    client_certificate_pem: Option<String>,
    is_administrator: bool,
    administrator_right_missing_since: Option<OffsetDateTime>,
    denied_administrator_action: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<CredentialRow> for Credential {
    fn from(row: CredentialRow) -> Self {
        Credential {
            id: row.id,
            name: row.name,
            api_base_url: row.api_base_url,
            username: row.username,
            client_certificate_pem: row.client_certificate_pem,
            is_administrator: row.is_administrator,
            missing_administrator_right: row
                .administrator_right_missing_since
                .zip(row.denied_administrator_action)
                .map(|(since, action)| MissingAdministratorRight { since, action }),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Returns the associated data that binds a sealed secret to its row and column.
pub(super) fn secret_aad(id: Uuid, column: &str) -> Vec<u8> {
    record_aad(TABLE, column, &id.to_string())
}

/// Returns whether a credential has `name`.
pub(super) async fn name_exists(pool: &PgPool, name: &str) -> Result<bool, DbError> {
    let exists = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM credentials WHERE name = $1)")
        .bind(name)
        .fetch_one(pool)
        .await?;
    Ok(exists)
}

/// Seals the credential's secrets and inserts it with a CredentialAdded event on `conn`, which
/// must be inside a transaction. Fails with [`ServiceError::NameTaken`] when the name is used.
pub(super) async fn insert(
    conn: &mut PgConnection,
    keyring: &Keyring,
    outbox: &Outbox,
    new: &NewCredential,
    now: OffsetDateTime,
) -> Result<Credential, ServiceError> {
    let id = Uuid::now_v7();
    let api_key = keyring.seal(
        new.api_key.expose_secret().as_bytes(),
        &secret_aad(id, "api_key"),
    )?;
    let client_key = match &new.client_key_pem {
        Some(key) => Some(keyring.seal(
            key.expose_secret().as_bytes(),
            &secret_aad(id, "client_key"),
        )?),
        None => None,
    };

    let row: CredentialRow = sqlx::query_as(concat!(
        "INSERT INTO credentials (id, name, api_base_url, username, api_key,
                                  client_certificate_pem, client_key, is_administrator,
                                  created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(&new.name)
    .bind(new.stored_url())
    .bind(&new.username)
    .bind(api_key)
    .bind(&new.client_certificate_pem)
    .bind(client_key)
    .bind(new.is_administrator)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|error| name_conflict(DbError::from(error), &new.name))?;
    let credential = Credential::from(row);

    outbox
        .enqueue(
            conn,
            NewEvent::new(id.to_string(), &added_event(&credential)),
        )
        .await?;
    Ok(credential)
}

/// Maps a violation of the unique name to [`ServiceError::NameTaken`].
pub(super) fn name_conflict(error: DbError, name: &str) -> ServiceError {
    match &error {
        DbError::Conflict {
            constraint: Some(constraint),
            ..
        } if constraint == NAME_CONSTRAINT => ServiceError::NameTaken {
            name: name.to_owned(),
        },
        _ => ServiceError::Db(error),
    }
}

fn added_event(credential: &Credential) -> CredentialAdded {
    CredentialAdded {
        credential_id: credential.id.to_string(),
        name: credential.name.clone(),
        api_base_url: credential.api_base_url.clone(),
        username: credential.username.clone(),
        is_administrator: credential.is_administrator,
    }
}

/// Returns one credential without its secrets.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Credential, ServiceError> {
    let row: Option<CredentialRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM credentials WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from)?;
    row.map(Credential::from)
        .ok_or_else(|| ServiceError::not_found("credential", id.to_string()))
}

/// Returns one page of credentials, oldest first, and the token of the next page (empty on
/// the last page).
pub async fn list(
    pool: &PgPool,
    page_size: u32,
    page_token: &str,
) -> Result<(Vec<Credential>, String), ServiceError> {
    let size = CREDENTIAL_PAGES.size(page_size);
    let (after_created, after_id) = match decode_token(page_token, 2)? {
        Some(key) => parse_credential_key(&key)?,
        None => (None, None),
    };
    let mut rows: Vec<CredentialRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM credentials
         WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
         ORDER BY created_at, id
         LIMIT $3"
    ))
    .bind(after_created)
    .bind(after_id)
    .bind(i64::from(size) + 1)
    .fetch_all(pool)
    .await
    .map_err(DbError::from)?;

    let next_page_token = if rows.len() > size as usize {
        rows.truncate(size as usize);
        rows.last().map(credential_key).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((
        rows.into_iter().map(Credential::from).collect(),
        next_page_token,
    ))
}

fn credential_key(row: &CredentialRow) -> String {
    let created_at = row.created_at.format(&Rfc3339).unwrap_or_default();
    encode_token(&[created_at, row.id.to_string()])
}

fn parse_credential_key(
    key: &[String],
) -> Result<(Option<OffsetDateTime>, Option<Uuid>), ServiceError> {
    let invalid = || {
        ServiceError::invalid(
            "page_token",
            "is not a token ListCredentials returned: pass its next_page_token",
        )
    };
    let created_at = OffsetDateTime::parse(&key[0], &Rfc3339).map_err(|_| invalid())?;
    let id = Uuid::parse_str(&key[1]).map_err(|_| invalid())?;
    Ok((Some(created_at), Some(id)))
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    #[sqlx(flatten)]
    credential: CredentialRow,
    api_key: Vec<u8>,
    client_key: Option<Vec<u8>>,
}

/// Returns one credential with its API key and client key opened.
pub async fn resolve(
    pool: &PgPool,
    keyring: &Keyring,
    id: Uuid,
) -> Result<ResolvedCredential, ServiceError> {
    let row: Option<SecretRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        ", api_key, client_key FROM credentials WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from)?;
    let row = row.ok_or_else(|| ServiceError::not_found("credential", id.to_string()))?;

    let api_key = open_text(keyring, &row.api_key, id, "api_key")?;
    let client_key_pem = match &row.client_key {
        Some(sealed) => Some(open_text(keyring, sealed, id, "client_key")?),
        None => None,
    };
    Ok(ResolvedCredential {
        credential: Credential::from(row.credential),
        api_key,
        client_key_pem,
    })
}

fn open_text(
    keyring: &Keyring,
    sealed: &[u8],
    id: Uuid,
    column: &str,
) -> Result<SecretString, ServiceError> {
    let opened = keyring.open(sealed, &secret_aad(id, column))?;
    // Sealed from UTF-8 text, and the authentication tag rules out any change since, so the
    // lossy conversion replaces nothing.
    let text = String::from_utf8_lossy(opened.expose_secret()).into_owned();
    Ok(SecretString::from(text))
}
