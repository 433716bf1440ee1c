//! Executing one sync run in the background, while renewing the run's lease: fetch the
//! requested catalog kinds from Entrust and store each kind Entrust listed, end the run and
//! write its event, all in one transaction. Domains, the one kind with many pages, are written
//! page by page while the next page is fetched (see `stream_domains`), so storing a large
//! catalog overlaps the listing instead of following it.
//!
//! The transaction stays open while Entrust lists the catalog. It locks the credential's row
//! against deletion (`FOR KEY SHARE`) and the rows it writes; readers keep seeing the previous
//! catalog until it commits.
//!
//! Kinds fail independently. A run whose kinds all succeeded ends `succeeded`, one where some
//! failed ends `partial` with the others stored, and one where all failed ends `failed`. The
//! stored entries of a failed kind stay as they were. When Entrust returned HTTP 403 for a
//! kind, the credential is also marked as lacking administrator rights.

use std::time::Duration;

use certitude_platform::db::DbError;
use certitude_platform::outbox::OutboxError;
use certitude_platform::telemetry::metrics;
use entrust::CertificateAuthority;
use entrust::model::Domain;
use futures::StreamExt;
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use time::OffsetDateTime;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;
use uuid::Uuid;

use super::runs::{self, RunTotals};
use super::{RunState, SyncRun};
use crate::catalog::{self, CatalogKind, DomainWriter, KindCounts};
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

/// Maximum number of domain pages fetched ahead of the one being written, enough to keep the
/// listing going while the writer reads the stored domains.
const PAGES_AHEAD: usize = 16;

/// Maximum number of domains written in one statement; the adapter's pages hold 250.
const DOMAINS_PER_WRITE: usize = 1000;

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

    #[error("the task listing the domains failed")]
    Listing(#[source] tokio::task::JoinError),

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
        match sync_while_leased(&deps, &run, &cancel).await {
            Ok(finished) => {
                metrics::record_sync_run(finished.state.as_str());
                log_finished(&finished);
            }
            Err(RunError::LeaseLost) => tracing::warn!(
                "catalog sync {} lost its lease to another replica, or its credential was \
                 deleted; its result was dropped",
                run.id
            ),
            Err(error) => {
                metrics::record_sync_run(RunState::Failed.as_str());
                record_failure(&deps, &run, &error).await;
            }
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

/// Fetches and stores the run's kinds, renewing the run's lease meanwhile.
async fn sync_while_leased(
    deps: &Deps,
    run: &SyncRun,
    cancel: &CancellationToken,
) -> Result<SyncRun, RunError> {
    let resolved = credentials::resolve(&deps.pool, &deps.keyring, run.credential_id)
        .await
        .map_err(RunError::Credential)?;
    let target = resolved.target().map_err(RunError::Url)?;
    let client = deps
        .entrust
        .kept_client(run.credential_id, &target)
        .map_err(RunError::Client)?;

    let sync = sync_catalog(deps, run, Arc::new(client));
    tokio::pin!(sync);
    let mut renewal = tokio::time::interval(LEASE_RENEWAL);
    // The first tick completes at once; the lease is fresh from the start.
    renewal.tick().await;
    loop {
        tokio::select! {
            finished = &mut sync => return finished,
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

/// Fetches the run's kinds and stores each kind Entrust listed, marks the credential when
/// Entrust denied a kind with HTTP 403, ends the run and writes its events, in one
/// transaction. Domains stream into the transaction while the other kinds are fetched.
async fn sync_catalog(
    deps: &Deps,
    run: &SyncRun,
    authority: Arc<dyn CertificateAuthority>,
) -> Result<SyncRun, RunError> {
    let now = deps.clock.now();
    let mut tx = deps.pool.begin().await?;
    if !lock_credential(&mut tx, run.credential_id).await? {
        return Err(RunError::LeaseLost);
    }

    let listed_at_once: Vec<CatalogKind> = run
        .kinds
        .iter()
        .filter(|kind| *kind != CatalogKind::Domains)
        .collect();
    let with_domains = run.kinds.iter().any(|kind| kind == CatalogKind::Domains);
    let domains = async {
        if with_domains {
            let listing = Arc::clone(&authority);
            Some(stream_domains(&mut tx, listing, run.credential_id, now).await)
        } else {
            None
        }
    };
    let (fetched, domains) =
        tokio::join!(catalog::fetch(authority.as_ref(), &listed_at_once), domains);

    let mut totals = RunTotals::default();
    let mut failures: Vec<(CatalogKind, entrust::Error)> = Vec::new();
    match domains.transpose()? {
        Some(Ok(counts)) => totals.add(CatalogKind::Domains, counts),
        Some(Err(error)) => failures.push((CatalogKind::Domains, error)),
        None => {}
    }
    for (kind, result) in fetched {
        match result {
            Ok(entries) => {
                let counts = catalog::apply(&mut tx, run.credential_id, &entries, now).await?;
                totals.add(kind, counts);
            }
            Err(error) => failures.push((kind, error)),
        }
    }
    failures.sort_by_key(|(kind, _)| *kind);

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
        failed if failed == run.kinds.iter().count() => RunState::Failed,
        _ => RunState::Partial,
    };
    let error = failure_text(&failures);
    // Entries carry the instant the sync started; the run ends now.
    let finished_at = deps.clock.now();
    let finished = runs::finish(
        &mut tx,
        run.id,
        state,
        totals,
        error.as_deref(),
        finished_at,
    )
    .await?;
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

/// Locks the credential's row until the transaction ends, so that deleting the credential
/// waits for the sync and then deletes the entries it wrote. Returns false when the
/// credential no longer exists.
async fn lock_credential(conn: &mut PgConnection, credential_id: Uuid) -> Result<bool, RunError> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM credentials WHERE id = $1 FOR KEY SHARE")
            .bind(credential_id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// Lists the account's domains and writes them on `conn` page by page, while the next pages
/// are fetched in a task of their own (so parsing pages and comparing them with the stored
/// domains use two cores), inside a savepoint. When the listing fails, the savepoint is rolled back, so
/// the stored domains stay as they were, and Entrust's error is returned as the kind's
/// outcome. A database error fails the whole run.
async fn stream_domains(
    conn: &mut PgConnection,
    authority: Arc<dyn CertificateAuthority>,
    credential_id: Uuid,
    now: OffsetDateTime,
) -> Result<Result<KindCounts, entrust::Error>, RunError> {
    let mut savepoint = conn.begin().await?;
    let (pages, received) = mpsc::channel::<Vec<Domain>>(PAGES_AHEAD);
    let listing = tokio::spawn(async move {
        // Each chunk contains what the stream has ready: the rest of the page just received.
        let mut chunks = authority.domain_stream().ready_chunks(DOMAINS_PER_WRITE);
        while let Some(chunk) = chunks.next().await {
            let domains = chunk.into_iter().collect::<Result<Vec<Domain>, _>>()?;
            if pages.send(domains).await.is_err() {
                // The writer stopped on a database error, which fails the run.
                break;
            }
        }
        Ok::<(), entrust::Error>(())
    });
    // Aborts the listing when this future is dropped, such as on shutdown.
    let listing = AbortOnDropHandle::new(listing);

    // The writer reads the stored domains while the first pages are fetched.
    let writing = async {
        // Owned here, so the receiver closes when the writer stops, which ends the listing.
        let mut received = received;
        let mut writer = DomainWriter::start(&mut savepoint, credential_id, now).await?;
        while let Some(domains) = received.recv().await {
            writer.write(&mut savepoint, &domains).await?;
        }
        Ok::<DomainWriter, sqlx::Error>(writer)
    };

    let (listed, written) = tokio::join!(listing, writing);
    let writer = written?;
    let listed = listed.map_err(RunError::Listing)?;
    if let Err(error) = listed {
        savepoint.rollback().await?;
        return Ok(Err(error));
    }

    let counts = writer.finish(&mut savepoint).await?;
    savepoint.commit().await?;
    Ok(Ok(counts))
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
