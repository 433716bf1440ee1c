//! Executing one sync run in the background: fetch the requested catalog kinds from Entrust
//! while renewing the run's lease, then store each kind Entrust listed, end the run and write
//! its event in one transaction.
//!
//! Kinds fail independently. A run whose kinds all succeeded ends `succeeded`, one where some
//! failed ends `partial` with the others stored, and one where all failed ends `failed`. The
//! stored entries of a failed kind stay as they were. When Entrust returned HTTP 403 for a
//! kind, the credential is also marked as lacking administrator rights.

use std::time::Duration;

use certitude_platform::db::DbError;
use certitude_platform::outbox::OutboxError;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::runs::{self, RunTotals};
use super::{RunState, SyncRun};
use crate::catalog::{self, CatalogKind, Entries};
use crate::credentials;
use crate::error::{ServiceError, error_chain};
use crate::state::Deps;

/// How long a run stays claimed without a renewal. Another replica closes a running run as
/// abandoned once its lease has expired.
pub(super) const LEASE: Duration = Duration::from_secs(120);

/// Time between two renewals of a run's lease, well inside [`LEASE`].
const LEASE_RENEWAL: Duration = Duration::from_secs(30);

/// Maximum length of the error text stored with a run, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// Each requested kind with its entries, or the error Entrust returned for it.
type Fetched = Vec<(CatalogKind, Result<Entries, entrust::Error>)>;

/// The reason a whole run failed. No variant's message contains a secret.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("the credential could not be read")]
    Credential(#[source] ServiceError),

    #[error("the credential's stored API base URL is invalid")]
    Url(#[source] url::ParseError),

    #[error("the Entrust client could not be built")]
    Client(#[source] entrust::Error),

    #[error("storing the catalog failed")]
    Store(#[source] DbError),

    #[error("writing the run's events failed")]
    Event(#[source] OutboxError),

    #[error("the service stopped before the run finished; start another sync")]
    Interrupted,

    /// Another replica closed the run as abandoned, or the credential was deleted; the run
    /// records nothing more.
    #[error("the run's lease expired and another replica closed it")]
    LeaseLost,
}

impl From<sqlx::Error> for RunError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

impl From<ServiceError> for RunError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Db(error) => Self::Store(error),
            ServiceError::Outbox(error) => Self::Event(error),
            other => Self::Credential(other),
        }
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
            Ok(fetched) => store(&deps, &run, fetched).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(finished) => log_finished(&finished),
            Err(RunError::LeaseLost) => tracing::warn!(
                "catalog sync {} lost its lease to another replica, or its credential was \
                 deleted; its result was dropped",
                run.id
            ),
            Err(error) => record_failure(&deps, &run, &error).await,
        }
    }
    .instrument(span)
    .await
}

fn log_finished(run: &SyncRun) {
    let error = run.error.as_deref().unwrap_or_default();
    match run.state {
        RunState::Succeeded => tracing::info!(
            catalog.organizations = run.organizations,
            catalog.domains = run.domains,
            catalog.products = run.products,
            catalog.added = run.added,
            catalog.changed = run.changed,
            catalog.removed = run.removed,
            "catalog sync {} of credential {} succeeded",
            run.id,
            run.credential_id
        ),
        _ => tracing::warn!(
            error,
            catalog.added = run.added,
            catalog.changed = run.changed,
            catalog.removed = run.removed,
            "catalog sync {} of credential {} ended {}; the failed kinds keep their last \
             catalog",
            run.id,
            run.credential_id,
            run.state.as_str()
        ),
    }
}

/// Fetches the run's kinds, renewing the run's lease meanwhile.
async fn fetch_while_leased(
    deps: &Deps,
    run: &SyncRun,
    cancel: &CancellationToken,
) -> Result<Fetched, RunError> {
    let resolved = credentials::resolve(&deps.pool, &deps.keyring, run.credential_id)
        .await
        .map_err(RunError::Credential)?;
    let target = resolved.target().map_err(RunError::Url)?;
    let client = deps.entrust.client(&target).map_err(RunError::Client)?;

    let fetch = catalog::fetch(&client, &run.kinds);
    tokio::pin!(fetch);
    let mut renewal = tokio::time::interval(LEASE_RENEWAL);
    // The first tick completes at once; the lease is fresh from the start.
    renewal.tick().await;
    loop {
        tokio::select! {
            fetched = &mut fetch => return Ok(fetched),
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

/// Stores each kind Entrust listed, marks the credential when Entrust denied a kind with HTTP
/// 403, ends the run and writes its events, in one transaction.
async fn store(deps: &Deps, run: &SyncRun, fetched: Fetched) -> Result<SyncRun, RunError> {
    let now = deps.clock.now();
    let requested = fetched.len();
    let mut totals = RunTotals::default();
    let mut failures: Vec<(CatalogKind, entrust::Error)> = Vec::new();
    let mut tx = deps.pool.begin().await?;
    for (kind, result) in fetched {
        match result {
            Ok(entries) => {
                let counts = catalog::apply(&mut tx, run.credential_id, &entries, now).await?;
                totals.add(kind, counts);
            }
            Err(error) => failures.push((kind, error)),
        }
    }

    if let Some(endpoint) = denied_endpoint(&failures) {
        let outbox = &deps.outbox;
        credentials::mark_administrator_right_missing(
            &mut tx,
            outbox,
            run.credential_id,
            endpoint,
            now,
        )
        .await?;
    }
    let state = match failures.len() {
        0 => RunState::Succeeded,
        failed if failed == requested => RunState::Failed,
        _ => RunState::Partial,
    };
    let error = failure_text(&failures);
    let finished = runs::finish(&mut tx, run.id, state, totals, error.as_deref(), now).await?;
    let Some(finished) = finished else {
        return Err(RunError::LeaseLost);
    };
    deps.outbox
        .enqueue(&mut tx, runs::synced_event(&finished))
        .await
        .map_err(RunError::Event)?;
    tx.commit().await?;
    Ok(finished)
}

/// Returns the endpoint of the first kind Entrust denied with HTTP 403.
fn denied_endpoint(failures: &[(CatalogKind, entrust::Error)]) -> Option<&'static str> {
    failures.iter().find_map(|(_, error)| match error {
        entrust::Error::PermissionDenied { endpoint, .. } => Some(*endpoint),
        _ => None,
    })
}

/// Returns `<kind>: <reason>` for each failed kind, separated by `; `, or `None` when no kind
/// failed.
fn failure_text(failures: &[(CatalogKind, entrust::Error)]) -> Option<String> {
    if failures.is_empty() {
        return None;
    }
    let text = failures
        .iter()
        .map(|(kind, error)| format!("{kind}: {}", error_chain(error)))
        .collect::<Vec<_>>()
        .join("; ");
    Some(text.chars().take(MAX_ERROR_CHARS).collect())
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
    let totals = RunTotals::default();
    let now = deps.clock.now();
    let finished = runs::finish(&mut tx, run.id, RunState::Failed, totals, Some(text), now).await?;
    if let Some(finished) = finished {
        deps.outbox
            .enqueue(&mut tx, runs::synced_event(&finished))
            .await
            .map_err(RunError::Event)?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use entrust::ApiMessages;

    use super::*;

    fn unavailable() -> entrust::Error {
        entrust::Error::Unavailable {
            endpoint: "GET /domains",
            status: Some(503),
            retry_after: None,
            messages: ApiMessages::default(),
            source: None,
        }
    }

    fn denied() -> entrust::Error {
        entrust::Error::PermissionDenied {
            endpoint: "GET /inventories",
            messages: ApiMessages::default(),
        }
    }

    #[test]
    fn failure_text_names_each_failed_kind() {
        let failures = vec![
            (CatalogKind::Domains, unavailable()),
            (CatalogKind::Products, denied()),
        ];

        let text = failure_text(&failures).expect("two kinds failed");

        assert!(
            text.starts_with("domains: Entrust is unavailable"),
            "{text}"
        );
        assert!(
            text.contains("; products: the Entrust API user may not"),
            "{text}"
        );
        assert_eq!(failure_text(&[]), None);
    }

    #[test]
    fn denied_kind_names_its_endpoint() {
        let failures = vec![
            (CatalogKind::Domains, unavailable()),
            (CatalogKind::Products, denied()),
        ];

        assert_eq!(denied_endpoint(&failures), Some("GET /inventories"));
        assert_eq!(denied_endpoint(&failures[..1]), None);
    }
}
