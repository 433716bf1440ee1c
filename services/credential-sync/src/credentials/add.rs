//! Adding a credential: verify it against Entrust, store it with its event, start its first
//! catalog sync.

use certitude_platform::db::DbError;

use super::{Credential, NewCredential, store};
use crate::catalog::KindSet;
use crate::error::{ServiceError, error_chain};
use crate::state::Deps;
use crate::sync::{SyncLauncher, Trigger};

/// Adds a credential once Entrust accepts it, and starts its catalog sync in the background.
///
/// Nothing is stored when the name is taken or the check against Entrust fails. The row and
/// its CredentialAdded event commit together. A sync that fails to start is logged and left to
/// the schedule or a later SyncCatalog call: the credential is stored either way.
#[tracing::instrument(skip_all, fields(credential.name = %new.name, credential.id = tracing::field::Empty))]
pub async fn add_credential(
    deps: &Deps,
    syncs: &SyncLauncher,
    new: NewCredential,
) -> Result<Credential, ServiceError> {
    if store::name_exists(&deps.pool, &new.name).await? {
        return Err(ServiceError::NameTaken { name: new.name });
    }
    let version = deps.entrust.check(&new.target()).await?;

    let mut tx = deps.pool.begin().await.map_err(DbError::from)?;
    let credential =
        store::insert(&mut tx, &deps.keyring, &deps.outbox, &new, deps.clock.now()).await?;
    tx.commit().await.map_err(DbError::from)?;
    tracing::Span::current().record("credential.id", tracing::field::display(credential.id));
    tracing::info!(
        credential.id = %credential.id,
        entrust.url = %credential.api_base_url,
        entrust.version = %version,
        "added Entrust credential {}",
        credential.name
    );

    let first_sync = syncs
        .start(credential.id, Trigger::CredentialAdded, KindSet::all())
        .await;
    if let Err(error) = first_sync {
        tracing::warn!(
            credential.id = %credential.id,
            error = %error_chain(&error),
            "starting the first catalog sync of the new credential failed; the schedule or \
             SyncCatalog will sync it"
        );
    }
    Ok(credential)
}
