//! Updating a credential: verify a new secret against Entrust, then store the change with its
//! CredentialUpdated event.

use certitude_platform::db::DbError;
use entrust::ClientIdentity;
use uuid::Uuid;

use super::events::{self, Change};
use super::{Credential, CredentialUpdate, IdentityChange, ResolvedCredential, changes, store};
use crate::entrust_api::EntrustTarget;
use crate::error::ServiceError;
use crate::state::Deps;

/// Applies `update` to the credential `id` and returns it as stored.
///
/// A new API key or client certificate is first verified against Entrust, with the errors of
/// adding a credential, and nothing changes when the check fails. An update without any field
/// returns the credential unchanged, without an event. Fails with NOT_FOUND for an unknown
/// credential and ALREADY_EXISTS when another credential has the new name.
#[tracing::instrument(skip_all, fields(credential.id = %id))]
pub async fn update_credential(
    deps: &Deps,
    id: Uuid,
    update: CredentialUpdate,
) -> Result<Credential, ServiceError> {
    let current = store::resolve(&deps.pool, &deps.keyring, id).await?;
    let changes = changes_of(&current, &update);
    if changes.is_empty() {
        return Ok(current.credential);
    }
    if let Some(name) = &update.name
        && changes.contains(&Change::Name)
        && store::name_exists(&deps.pool, name).await?
    {
        return Err(ServiceError::NameTaken { name: name.clone() });
    }
    if update.changes_authentication() {
        let version = deps
            .entrust
            .check(&updated_target(&current, &update)?)
            .await?;
        tracing::info!(
            entrust.version = %version,
            "Entrust accepted the new secret of credential {id}"
        );
    }

    let mut tx = deps.pool.begin().await.map_err(DbError::from)?;
    let updated = changes::update(&mut tx, &deps.keyring, id, &update, deps.clock.now()).await?;
    deps.outbox
        .enqueue(&mut tx, events::updated(&updated, &changes))
        .await?;
    tx.commit().await.map_err(DbError::from)?;
    tracing::info!(
        credential.changes = ?changes,
        "updated Entrust credential {}",
        updated.name
    );
    Ok(updated)
}

/// Returns what `update` changes on `current`, leaving out values that stay the same.
fn changes_of(current: &ResolvedCredential, update: &CredentialUpdate) -> Vec<Change> {
    let credential = &current.credential;
    let mut changes = Vec::new();
    if update
        .name
        .as_ref()
        .is_some_and(|name| *name != credential.name)
    {
        changes.push(Change::Name);
    }
    if update.api_key.is_some() {
        changes.push(Change::ApiKey);
    }
    let identity_changes = match update.client_identity {
        IdentityChange::Keep => false,
        IdentityChange::Remove => credential.client_certificate_pem.is_some(),
        IdentityChange::Replace { .. } => true,
    };
    if identity_changes {
        changes.push(Change::ClientCertificate);
    }
    if update
        .is_administrator
        .is_some_and(|flag| flag != credential.is_administrator)
    {
        changes.push(Change::IsAdministrator);
    }
    if update.is_administrator.is_some() && credential.missing_administrator_right.is_some() {
        changes.push(Change::AdministratorRight);
    }
    changes
}

/// Returns the target to verify: the stored URL and user name with the new secrets, and the
/// stored ones where the update leaves them.
fn updated_target(
    current: &ResolvedCredential,
    update: &CredentialUpdate,
) -> Result<EntrustTarget, ServiceError> {
    let mut target = current
        .target()
        .map_err(|error| ServiceError::FailedPrecondition {
            message: format!(
                "the stored API base URL of credential {} does not parse ({error}); delete \
                 and add the credential again",
                current.credential.id
            ),
            source: None,
        })?;
    if let Some(api_key) = &update.api_key {
        target.api_key = api_key.clone();
    }
    match &update.client_identity {
        IdentityChange::Keep => {}
        IdentityChange::Remove => target.client_identity = None,
        IdentityChange::Replace {
            certificate_pem,
            key_pem,
        } => {
            target.client_identity = Some(ClientIdentity {
                certificate_pem: certificate_pem.clone(),
                private_key_pem: key_pem.clone(),
            });
        }
    }
    Ok(target)
}
