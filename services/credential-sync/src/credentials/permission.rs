//! The record of administrator actions Entrust refused (HTTP 403): reported by order-manager
//! through ReportPermissionDenied, or met by credential-sync's own calls.

use certitude_platform::db::DbError;
use certitude_platform::outbox::Outbox;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::events::{self, Change};
use super::{Credential, changes, store};
use crate::error::ServiceError;
use crate::state::Deps;

/// Maximum length of a reported action, in characters.
const MAX_ACTION_CHARS: usize = 200;

/// Records that Entrust refused `action` with the credential `id` and returns the credential.
/// The first report sets `missing_administrator_right` and emits CredentialUpdated; a report
/// for a credential already marked changes nothing.
///
/// Fails with INVALID_ARGUMENT for a blank or overlong action and NOT_FOUND for an unknown
/// credential.
#[tracing::instrument(skip_all, fields(credential.id = %id))]
pub async fn report_permission_denied(
    deps: &Deps,
    id: Uuid,
    action: &str,
) -> Result<Credential, ServiceError> {
    let action = parse_action(action)?;
    let mut tx = deps.pool.begin().await.map_err(DbError::from)?;
    let marked =
        mark_administrator_right_missing(&mut tx, &deps.outbox, id, &action, deps.clock.now())
            .await?;
    tx.commit().await.map_err(DbError::from)?;
    match marked {
        Some(credential) => Ok(credential),
        None => store::get(&deps.pool, id).await,
    }
}

/// Marks the credential as lacking administrator rights after Entrust refused `action` at
/// `now`, with its CredentialUpdated event, on `conn` inside the caller's transaction. Returns
/// the changed credential, or `None` when it was already marked or does not exist.
pub async fn mark_administrator_right_missing(
    conn: &mut PgConnection,
    outbox: &Outbox,
    id: Uuid,
    action: &str,
    now: OffsetDateTime,
) -> Result<Option<Credential>, ServiceError> {
    let Some(credential) = changes::mark_administrator_right_missing(conn, id, action, now).await?
    else {
        return Ok(None);
    };
    outbox
        .enqueue(
            conn,
            events::updated(&credential, &[Change::AdministratorRight]),
        )
        .await?;
    tracing::warn!(
        credential.id = %id,
        "Entrust refused the administrator action {action:?} with credential {}; marked it as \
         lacking administrator rights",
        credential.name
    );
    Ok(Some(credential))
}

fn parse_action(action: &str) -> Result<String, ServiceError> {
    let action = action.trim();
    if action.is_empty() {
        return Err(ServiceError::invalid(
            "action",
            "is required: name the administrator action Entrust refused, such as \
             \"approve order 12345\"",
        ));
    }
    if action.chars().count() > MAX_ACTION_CHARS {
        return Err(ServiceError::invalid(
            "action",
            format!("is longer than {MAX_ACTION_CHARS} characters: name the action briefly"),
        ));
    }
    if action.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "action",
            "contains a control character: use printable characters only",
        ));
    }
    Ok(action.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_is_trimmed() {
        assert_eq!(
            parse_action("  approve order 12345 ").expect("the action is valid"),
            "approve order 12345"
        );
    }

    #[test]
    fn blank_and_overlong_actions_name_the_field() {
        let overlong = "a".repeat(MAX_ACTION_CHARS + 1);
        for action in ["  ", overlong.as_str(), "approve\norder"] {
            let error = parse_action(action).expect_err("the action is invalid");

            assert!(error.to_string().starts_with("action: "), "{error}");
        }
    }
}
