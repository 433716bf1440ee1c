//! Imports: bringing every Entrust order of a credential into Certitude, in the background.
//!
//! A job walks the credential's listing page by page (all fields, by tracking id ascending) and
//! upserts each order by (credential, tracking id); see [`upsert`]. The details of a page's
//! issued orders are fetched a few at a time (`import_fetch_concurrency`). Each page is written
//! in one transaction, its new orders with multi-row statements, so it costs one commit rather
//! than one per order. When that transaction fails,
//! the page's orders are written again one transaction each, so one order that fails is counted
//! and skipped alone. After each page the job writes its counters, so `GetImportJob` shows
//! progress. A page that cannot be fetched fails the job with its error. Importing again changes
//! only what changed at Entrust and emits no second `OrderImported` or `CertificateIssued`. An
//! order deleted from Certitude is skipped, unless the job restores deleted orders.

mod upsert;

use std::sync::Arc;

use entrust::CertificateAuthority;
use entrust::model::{OrderQuery, OrderSummary};
use futures::{StreamExt, TryStreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use crate::core::Core;
use crate::error::OrderError;
use crate::poller::error_chain;
use crate::store::import_jobs::{self, ImportJobRow, Progress, Started};
use upsert::{Planned, Upserted};

/// Starts import jobs and runs them on tasks that stop with the service.
#[derive(Debug, Clone)]
pub(crate) struct Importer {
    core: Core,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Importer {
    /// Creates an importer whose jobs are tracked by `tasks` and stop when `shutdown` fires.
    pub fn new(core: Core, tasks: TaskTracker, shutdown: CancellationToken) -> Self {
        Self {
            core,
            tasks,
            shutdown,
        }
    }

    /// Starts an import of `credential_id`'s orders, bringing back deleted ones when
    /// `restore_deleted`, or returns the one already running (which keeps its own choice).
    /// Fails at once, without a job, when the credential cannot be resolved.
    pub async fn start(
        &self,
        credential_id: &str,
        restore_deleted: bool,
    ) -> Result<ImportJobRow, OrderError> {
        let authority = self.core.credentials.authority(credential_id).await?;
        let now = self.core.now();
        // A job whose heartbeat is this old was left by a replica that stopped.
        let stale_before = now
            - time::Duration::try_from(self.core.settings.claim_lease * 2)
                .unwrap_or(time::Duration::HOUR);
        let started = import_jobs::start(
            &self.core.pool,
            credential_id,
            restore_deleted,
            now,
            stale_before,
        )
        .await?;
        match started {
            Started::AlreadyRunning(job) => Ok(job),
            Started::New(job) => {
                let run = Job {
                    core: self.core.clone(),
                    job_id: job.id,
                    credential_id: credential_id.to_owned(),
                    authority,
                    restore_deleted: job.restore_deleted,
                };
                let span = tracing::info_span!(
                    "import.run",
                    import.id = %job.id,
                    credential.id = %credential_id,
                );
                self.tasks
                    .spawn(run.run(self.shutdown.clone()).instrument(span));
                Ok(job)
            }
        }
    }
}

/// One running import.
struct Job {
    core: Core,
    job_id: Uuid,
    credential_id: String,
    authority: Arc<dyn CertificateAuthority>,
    restore_deleted: bool,
}

impl Job {
    async fn run(self, shutdown: CancellationToken) {
        tracing::info!(import.id = %self.job_id, credential.id = %self.credential_id, "import started");
        let mut progress = Progress::default();
        let error = tokio::select! {
            () = shutdown.cancelled() => {
                Some("stopped because the service shut down; start the import again".to_owned())
            }
            result = self.walk(&mut progress) => result.err(),
        };
        let finished = import_jobs::finish(
            &self.core.pool,
            self.job_id,
            &progress,
            error.as_deref(),
            self.core.now(),
        )
        .await;
        match (&error, finished) {
            (_, Err(db_error)) => tracing::error!(
                import.id = %self.job_id, error = %db_error,
                "recording the end of an import failed; the job stays running until abandoned"
            ),
            (None, Ok(())) => tracing::info!(
                import.id = %self.job_id, import.orders = progress.orders,
                import.imported = progress.imported, import.issued = progress.issued,
                import.failed = progress.failed, "import finished"
            ),
            (Some(error), Ok(())) => tracing::warn!(
                import.id = %self.job_id, error = %error, import.orders = progress.orders,
                "import failed"
            ),
        }
    }

    /// Walks every page, updating `progress` as it goes. Fails with the message of a page that
    /// could not be fetched or of progress that could not be saved.
    async fn walk(&self, progress: &mut Progress) -> Result<(), String> {
        let page_size = self.core.settings.import_page_size;
        let query = OrderQuery {
            page_size,
            ..OrderQuery::default()
        };
        let mut pages = self
            .authority
            .order_stream(query)
            .try_chunks(page_size as usize);
        while let Some(page) = pages.next().await {
            let (orders, page_error) = match page {
                Ok(orders) => (orders, None),
                Err(error) => (error.0, Some(error.1)),
            };
            self.import_page(orders, progress).await;
            if let Some(error) = page_error {
                self.save(progress).await?;
                return Err(format!(
                    "fetching a page of orders failed: {}",
                    error_chain(&error)
                ));
            }
            progress.pages += 1;
            self.save(progress).await?;
        }
        Ok(())
    }

    async fn import_page(&self, orders: Vec<OrderSummary>, progress: &mut Progress) {
        progress.orders += u32::try_from(orders.len()).unwrap_or(u32::MAX);
        let known = match upsert::read_known(&self.core, &self.credential_id, &orders).await {
            Ok(known) => known,
            Err(error) => {
                progress.failed += u32::try_from(orders.len()).unwrap_or(u32::MAX);
                tracing::warn!(
                    import.id = %self.job_id, import.page_orders = orders.len(),
                    error = %error_chain(&error),
                    "reading the known orders of a page failed; counting its orders as failed"
                );
                return;
            }
        };
        // Details are fetched a few at a time, in the listing's order.
        let concurrency = self.core.settings.import_fetch_concurrency.max(1) as usize;
        let plans: Vec<_> = futures::stream::iter(orders)
            .map(|summary| {
                let tracking_id = summary.tracking_id;
                let plan = upsert::plan(
                    self.authority.as_ref(),
                    &known,
                    summary,
                    self.restore_deleted,
                );
                async move { (tracking_id, plan.await) }
            })
            .buffered(concurrency)
            .collect()
            .await;
        let mut planned = Vec::with_capacity(plans.len());
        for (tracking_id, plan) in plans {
            match plan {
                Ok(Some(order)) => planned.push(order),
                Ok(None) => count(progress, Upserted::Skipped),
                Err(error) => {
                    progress.failed += 1;
                    tracing::warn!(
                        import.id = %self.job_id, entrust.tracking_id = tracking_id.get(),
                        error = %error_chain(&error), "importing an order failed; going on"
                    );
                }
            }
        }
        match self.write_together(&planned).await {
            Ok(outcomes) => {
                for upserted in outcomes {
                    count(progress, upserted);
                }
            }
            Err(error) => {
                tracing::warn!(
                    import.id = %self.job_id, import.page_orders = planned.len(),
                    error = %error_chain(&error),
                    "writing a page of orders in one transaction failed; writing them one by one"
                );
                self.write_one_by_one(&planned, progress).await;
            }
        }
    }

    /// Writes every planned order of a page in one transaction: the new ones with a few
    /// multi-row statements, the known ones one by one.
    async fn write_together(&self, planned: &[Planned]) -> Result<Vec<Upserted>, OrderError> {
        if planned.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.core.pool.begin().await?;
        let (new, known): (Vec<&Planned>, Vec<&Planned>) =
            planned.iter().partition(|order| order.is_new());
        let mut outcomes =
            upsert::insert_new(&self.core, &mut tx, &self.credential_id, &new).await?;
        for order in known {
            outcomes.push(upsert::write(&self.core, &mut tx, &self.credential_id, order).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Writes each planned order in a transaction of its own, counting those that fail.
    async fn write_one_by_one(&self, planned: &[Planned], progress: &mut Progress) {
        for order in planned {
            let written = async {
                let mut tx = self.core.pool.begin().await?;
                let upserted =
                    upsert::write(&self.core, &mut tx, &self.credential_id, order).await?;
                tx.commit().await?;
                Ok::<_, OrderError>(upserted)
            }
            .await;
            match written {
                Ok(upserted) => count(progress, upserted),
                Err(error) => {
                    progress.failed += 1;
                    tracing::warn!(
                        import.id = %self.job_id, entrust.tracking_id = order.tracking_id(),
                        error = %error_chain(&error), "importing an order failed; going on"
                    );
                }
            }
        }
    }

    async fn save(&self, progress: &Progress) -> Result<(), String> {
        import_jobs::save_progress(&self.core.pool, self.job_id, progress, self.core.now())
            .await
            .map_err(|error| format!("saving the import's progress failed: {error}"))
    }
}

fn count(progress: &mut Progress, upserted: Upserted) {
    match upserted {
        Upserted::Inserted { .. } => progress.imported += 1,
        Upserted::Updated { .. } => progress.updated += 1,
        Upserted::Unchanged | Upserted::Skipped => progress.skipped += 1,
    }
    if upserted.issued() {
        progress.issued += 1;
    }
}
