//! Executing one sync run in the background: fetch the catalog from Entrust while renewing the
//! run's lease, then store it, end the run and write its event in one transaction.

use std::time::Duration;

use certitude_platform::db::DbError;
use certitude_platform::outbox::OutboxError;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{SyncRun, runs};
use crate::catalog::{self, Catalog};
use crate::credentials;
use crate::error::{ServiceError, error_chain};
use crate::state::Deps;

/// How long a run stays claimed without a renewal. Another replica closes a running run as
/// abandoned once its lease has expired.
pub(super) const LEASE: Duration = Duration::from_secs(120);

/// Time between two renewals of a run's lease, well inside [`LEASE`].
const LEASE_RENEWAL: Duration = Duration::from_secs(30);

/// Maximum length of the error text stored with a failed run, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// The reason a run failed. No variant's message contains a secret.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("the credential could not be read")]
    Credential(#[source] ServiceError),

    #[error("the credential's stored API base URL is invalid")]
    Url(#[source] url::ParseError),

    #[error("the Entrust client could not be built")]
    Client(#[source] entrust::Error),

    #[error("fetching the catalog from Entrust failed")]
    Fetch(#[source] entrust::Error),

    #[error("storing the catalog failed")]
    Store(#[source] DbError),

    #[error("writing the CatalogSynced event failed")]
    Event(#[source] OutboxError),

    #[error("the service stopped before the run finished; start another sync")]
    Interrupted,

    /// Another replica closed the run as abandoned; it records nothing more.
    #[error("the run's lease expired and another replica closed it")]
    LeaseLost,
}

impl From<sqlx::Error> for RunError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Executes `run` to its end, recording the outcome; stops early when `cancel` fires.
pub(super) async fn execute(deps: Deps, run: SyncRun, cancel: CancellationToken) {
    let span = tracing::info_span!(
        "catalog_sync",
        credential.id = %run.credential_id,
        sync_run.id = %run.id,
    );
    async move {
        let result = match fetch_while_leased(&deps, &run, &cancel).await {
            Ok(catalog) => store(&deps, &run, &catalog).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(finished) => tracing::info!(
                catalog.organizations = finished.organizations,
                catalog.domains = finished.domains,
                catalog.products = finished.products,
                catalog.removed = finished.removed,
                "catalog sync {} of credential {} succeeded",
                run.id,
                run.credential_id
            ),
            Err(RunError::LeaseLost) => tracing::warn!(
                "catalog sync {} lost its lease to another replica; its result was dropped",
                run.id
            ),
            Err(error) => record_failure(&deps, &run, &error).await,
        }
    }
    .instrument(span)
    .await
}

/// Fetches the catalog, renewing the run's lease meanwhile.
async fn fetch_while_leased(
    deps: &Deps,
    run: &SyncRun,
    cancel: &CancellationToken,
) -> Result<Catalog, RunError> {
    let resolved = credentials::resolve(&deps.pool, &deps.keyring, run.credential_id)
        .await
        .map_err(RunError::Credential)?;
    let target = resolved.target().map_err(RunError::Url)?;
    let client = deps.entrust.client(&target).map_err(RunError::Client)?;

    let fetch = catalog::fetch(&client);
    tokio::pin!(fetch);
    let mut renewal = tokio::time::interval(LEASE_RENEWAL);
    // The first tick completes at once; the lease is fresh from the start.
    renewal.tick().await;
    loop {
        tokio::select! {
            result = &mut fetch => return result.map_err(RunError::Fetch),
            () = cancel.cancelled() => return Err(RunError::Interrupted),
            _ = renewal.tick() => {
                let until = deps.clock.now() + LEASE;
                if !runs::renew_lease(&deps.pool, run.id, until).await? {
                    return Err(RunError::LeaseLost);
                }
            }
        }
    }
}

/// Stores the catalog, ends the run and writes its event in one transaction.
async fn store(deps: &Deps, run: &SyncRun, catalog: &Catalog) -> Result<SyncRun, RunError> {
    let now = deps.clock.now();
    let mut tx = deps.pool.begin().await?;
    let applied = catalog::apply(&mut tx, run.credential_id, catalog, now).await?;
    let Some(finished) = runs::finish_succeeded(&mut tx, run.id, applied, now).await? else {
        return Err(RunError::LeaseLost);
    };
    deps.outbox
        .enqueue(&mut tx, runs::synced_event(&finished))
        .await
        .map_err(RunError::Event)?;
    tx.commit().await?;
    Ok(finished)
}

/// Ends the run as failed with the error's text and writes its event. The stored catalog is
/// left as it was. When this fails too, the run stays running until its lease expires.
async fn record_failure(deps: &Deps, run: &SyncRun, error: &RunError) {
    let text: String = error_chain(error).chars().take(MAX_ERROR_CHARS).collect();
    tracing::warn!(
        error = %text,
        "catalog sync {} of credential {} failed",
        run.id,
        run.credential_id
    );
    if let Err(record_error) = try_record_failure(deps, run, &text).await {
        tracing::error!(
            error = %error_chain(&record_error),
            "recording the failure of catalog sync {} failed; the run stays running until its \
             lease expires",
            run.id
        );
    }
}

async fn try_record_failure(deps: &Deps, run: &SyncRun, text: &str) -> Result<(), RunError> {
    let mut tx = deps.pool.begin().await?;
    let finished = runs::finish_failed(&mut tx, run.id, text, deps.clock.now()).await?;
    if let Some(finished) = finished {
        deps.outbox
            .enqueue(&mut tx, runs::synced_event(&finished))
            .await
            .map_err(RunError::Event)?;
    }
    tx.commit().await?;
    Ok(())
}
