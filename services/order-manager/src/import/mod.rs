//! Imports: bringing every Entrust order of a credential into Certitude, in the background.
//!
//! A job walks the credential's listing page by page (all fields, by tracking id ascending) and
//! upserts each order by (credential, tracking id); see [`upsert`]. The details of a page's
//! issued orders are fetched a few at a time (`import_fetch_concurrency`). Each page is written
//! in one transaction, its new orders with multi-row statements, so it costs one commit rather
//! than one per order, and while it is written the next page is fetched. When that transaction
//! fails, the page's orders are written again one transaction each, so one order that fails is
//! counted and skipped alone. After each page the job writes its counters, so `GetImportJob`
//! shows progress. A page that cannot be fetched fails the job with its error. Importing again changes
//! only what changed at Entrust and emits no second `OrderImported` or `CertificateIssued`. An
//! order deleted from Certitude is skipped, unless the job restores deleted orders.
//!
//! The poller checks each imported order that is pending at Entrust, first one poll interval
//! after the import. A job spaces these first checks [`FIRST_CHECK_SPACING`] apart, in the
//! listing's order, so that an account with thousands of pending orders does not send
//! thousands of status requests at once. The poller's backoff applies after that.

mod upsert;

use std::sync::Arc;

use entrust::CertificateAuthority;
use entrust::model::{OrderQuery, OrderSummary};
use futures::{StreamExt, TryStreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use crate::core::{Core, after};
use crate::error::OrderError;
use crate::poller::error_chain;
use crate::store::import_jobs::{self, ImportJobRow, Progress, Started};
use upsert::{Planned, Upserted};

/// Time between the first checks of two pending orders one job imported: 10 a second at most.
pub const FIRST_CHECK_SPACING: std::time::Duration = std::time::Duration::from_millis(100);

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
        let mut first_checks = FirstChecks::default();
        // Each page is written while the next one is fetched and planned. Pages hold distinct
        // tracking ids, and an order listed twice is written once: the second insert finds it.
        let mut writing: Option<PlannedPage> = None;
        loop {
            let fetch = async {
                let page = pages.next().await?;
                let (orders, page_error) = match page {
                    Ok(orders) => (orders, None),
                    Err(error) => (error.0, Some(error.1)),
                };
                Some((self.plan_page(orders, &mut first_checks).await, page_error))
            };
            let write = async {
                match writing.take() {
                    Some(page) => Some(self.write_page(page).await),
                    None => None,
                }
            };
            let (next, written) = tokio::join!(fetch, write);
            if let Some(page_progress) = written {
                progress.add(&page_progress);
                progress.pages += 1;
                self.save(progress).await?;
            }
            match next {
                None => return Ok(()),
                Some((page, None)) => writing = Some(page),
                Some((page, Some(error))) => {
                    // The orders listed before the failure are still written.
                    let page_progress = self.write_page(page).await;
                    progress.add(&page_progress);
                    self.save(progress).await?;
                    return Err(format!(
                        "fetching a page of orders failed: {}",
                        error_chain(&error)
                    ));
                }
            }
        }
    }

    /// Reads what Certitude has of a listed page's orders and plans each, fetching the details
    /// that bring certificates in. The page's progress counts its orders and those skipped or
    /// failed already.
    async fn plan_page(
        &self,
        orders: Vec<OrderSummary>,
        first_checks: &mut FirstChecks,
    ) -> PlannedPage {
        let mut progress = Progress {
            orders: u32::try_from(orders.len()).unwrap_or(u32::MAX),
            ..Progress::default()
        };
        let known = match upsert::read_known(&self.core, &self.credential_id, &orders).await {
            Ok(known) => known,
            Err(error) => {
                progress.failed += progress.orders;
                tracing::warn!(
                    import.id = %self.job_id, import.page_orders = orders.len(),
                    error = %error_chain(&error),
                    "reading the known orders of a page failed; counting its orders as failed"
                );
                return PlannedPage {
                    planned: Vec::new(),
                    progress,
                };
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
        let now = self.core.now();
        for (tracking_id, plan) in plans {
            match plan {
                Ok(Some(mut order)) => {
                    if order.is_new_pending() {
                        order.set_first_check_at(first_checks.next(&self.core, now));
                    }
                    planned.push(order);
                }
                Ok(None) => count(&mut progress, Upserted::Skipped),
                Err(error) => {
                    progress.failed += 1;
                    tracing::warn!(
                        import.id = %self.job_id, entrust.tracking_id = tracking_id.get(),
                        error = %error_chain(&error), "importing an order failed; going on"
                    );
                }
            }
        }
        PlannedPage { planned, progress }
    }

    /// Writes a planned page and returns its progress.
    async fn write_page(&self, page: PlannedPage) -> Progress {
        let PlannedPage {
            planned,
            mut progress,
        } = page;
        match self.write_together(&planned).await {
            Ok(outcomes) => {
                for upserted in outcomes {
                    count(&mut progress, upserted);
                }
            }
            Err(error) => {
                tracing::warn!(
                    import.id = %self.job_id, import.page_orders = planned.len(),
                    error = %error_chain(&error),
                    "writing a page of orders in one transaction failed; writing them one by one"
                );
                self.write_one_by_one(&planned, &mut progress).await;
            }
        }
        progress
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

/// A listed page, read and planned, to write.
struct PlannedPage {
    planned: Vec<Planned>,
    /// The page's orders, and those that planning skipped or failed.
    progress: Progress,
}

/// The first checks of the pending orders one job imported, [`FIRST_CHECK_SPACING`] apart.
#[derive(Debug, Default)]
struct FirstChecks {
    last: Option<time::OffsetDateTime>,
}

impl FirstChecks {
    /// Returns the first check of the next pending order imported at `now`: one poll interval
    /// after `now`, and no sooner than the spacing after the previous one.
    fn next(&mut self, core: &Core, now: time::OffsetDateTime) -> time::OffsetDateTime {
        let earliest = after(now, core.settings.poll_interval);
        let at = match self.last {
            Some(last) => earliest.max(after(last, FIRST_CHECK_SPACING)),
            None => earliest,
        };
        self.last = Some(at);
        at
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
