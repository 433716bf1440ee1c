//! The portal reconcile: a periodic round that notices what changed at Entrust, outside
//! Certitude, to the orders Certitude stores as ISSUED or SUSPENDED. An Entrust administrator
//! may suspend, unsuspend, revoke, deactivate, reissue or renew a certificate in the portal, and
//! nothing notifies Certitude. Each change found moves the order through
//! [`transition::apply`], with a history row (actor `reconciler`, action `portal-reconcile`)
//! and `OrderStatusChanged`.
//!
//! A round walks each credential that has such orders in two passes:
//!
//! 1. One listing of the orders whose certificate has not expired and whose status is
//!    SUSPENDED, REVOKED, DEACTIVATED, REISSUED or RENEWED, with only the tracking id and
//!    status fields. Every listed order that Certitude stores in another state is moved.
//! 2. The orders Certitude stores as SUSPENDED that pass 1 did not list (unsuspended or expired
//!    since), read by tracking id, [`TRACKING_IDS_PER_REQUEST`] per listing request.
//!
//! Cost per round and credential: ceil(L / page size) listing requests for the L unexpired
//! certificates that are not active at Entrust, plus ceil(S / 100) for the S orders Certitude
//! stores as SUSPENDED that pass 1 did not list. For example, an account of one million
//! certificates of which 20,000 unexpired ones are revoked, suspended or replaced costs 20
//! requests per round at a page size of 1,000, where reading each order would cost one
//! million. Active and expired certificates cost nothing. The listing filters the adapter
//! supports ([`OrderFilter`]) include none on the time of an order's last change, so the
//! revoked and replaced ones are listed again each round until they expire.
//!
//! Several replicas: a round runs under the lease row `portal-reconcile` in `task_leases`. A
//! replica starts a round only when it is due and no live lease is held, renews the lease after
//! each page, and stops when it lost the lease. The next round is due one interval (a tenth more
//! or less, at random) after the last one finished, whichever replica ran it. Each order change
//! claims the order first, as an administrator operation does, so a change that a request is
//! making through the API at that moment is left to it and the round looks again next time.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use entrust::CertificateAuthority;
use entrust::model::{
    Comparison, FieldSelection, OrderFilter, OrderQuery, OrderStatus, OrderSummary, TrackingId,
};
use futures::{StreamExt, TryStreamExt};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::core::{Core, after};
use crate::error::OrderError;
use crate::orders::transition::{self, Observation, Step};
use crate::poller::error_chain;
use crate::state::OrderState;
use crate::store::orders::OrderRow;
use crate::store::task_leases::{self, Start};
use crate::store::{claims, portal};

/// Name of the round's row in `task_leases`.
const TASK: &str = "portal-reconcile";

const STEP: Step<'static> = Step {
    actor: "reconciler",
    action: "portal-reconcile",
};

/// Entrust statuses of orders whose certificate stopped being active (pass 1).
const CHANGED_STATUSES: [OrderStatus; 5] = [
    OrderStatus::Suspended,
    OrderStatus::Revoked,
    OrderStatus::Deactivated,
    OrderStatus::Reissued,
    OrderStatus::Renewed,
];

/// Tracking ids named in one listing request of pass 2. 100 ids of up to 10 digits keep the
/// query string near 1 KB.
const TRACKING_IDS_PER_REQUEST: usize = 100;

/// Shortest wait between two looks at the lease row.
const MIN_WAIT: Duration = Duration::from_millis(100);

/// Runs rounds until `shutdown` is cancelled, stopping a round in progress after its current
/// page.
pub(crate) async fn run(core: Core, shutdown: CancellationToken) {
    let holder = Uuid::new_v4().to_string();
    tracing::info!(
        task.holder = %holder,
        interval_s = core.settings.portal_reconcile_interval.as_secs(),
        "portal reconcile started"
    );
    while !shutdown.is_cancelled() {
        let wait = match round_if_due(&core, &holder, &shutdown).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    "reading or updating the portal reconcile's lease failed; trying again later"
                );
                core.settings
                    .portal_reconcile_interval
                    .min(Duration::from_secs(60))
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("portal reconcile stopped");
}

/// Runs a round when one is due and no other replica runs it. Returns the wait before the next
/// look at the lease.
async fn round_if_due(
    core: &Core,
    holder: &str,
    shutdown: &CancellationToken,
) -> Result<Duration, sqlx::Error> {
    let now = core.now();
    let lease_end = after(now, core.settings.claim_lease);
    match task_leases::try_start(&core.pool, TASK, holder, now, lease_end).await? {
        Start::NotNow(lease) => return Ok(wait_until(core, lease.available_at(now))),
        Start::Started => {}
    }

    let mut report = RoundReport::default();
    let result = Round {
        core,
        holder,
        shutdown,
    }
    .run(&mut report)
    .await;
    let finished_at = core.now();
    let next_run_at = match &result {
        // Another replica may take the round over at once.
        Err(RoundError::Stopped) => finished_at,
        _ => after(
            finished_at,
            jittered(core.settings.portal_reconcile_interval),
        ),
    };
    let error = match &result {
        Ok(()) => report.first_error.clone(),
        Err(error) => Some(error_chain(error)),
    };
    task_leases::finish(
        &core.pool,
        TASK,
        holder,
        finished_at,
        next_run_at,
        error.as_deref(),
    )
    .await?;
    log_round(&report, error.as_deref());
    Ok(wait_until(core, next_run_at))
}

/// Returns the wait until `instant` on the service's clock, from [`MIN_WAIT`] to one interval.
fn wait_until(core: &Core, instant: time::OffsetDateTime) -> Duration {
    let until = Duration::try_from(instant - core.now()).unwrap_or(Duration::ZERO);
    until.clamp(
        MIN_WAIT,
        core.settings.portal_reconcile_interval.max(MIN_WAIT),
    )
}

/// Returns `interval` made up to a tenth longer or shorter at random, so that the rounds of
/// several installations on one Entrust account drift apart.
fn jittered(interval: Duration) -> Duration {
    let factor = 0.9 + 0.2 * rand::random::<f64>();
    interval.mul_f64(factor)
}

fn log_round(report: &RoundReport, error: Option<&str>) {
    match error {
        None => tracing::info!(
            reconcile.credentials = report.credentials,
            reconcile.listed = report.listed,
            reconcile.changed = report.changed,
            reconcile.busy = report.busy,
            "portal reconcile round finished"
        ),
        Some(error) => tracing::warn!(
            reconcile.credentials = report.credentials,
            reconcile.listed = report.listed,
            reconcile.changed = report.changed,
            reconcile.busy = report.busy,
            reconcile.failed = report.failed,
            error = %error,
            "portal reconcile round finished with errors; the next round tries again"
        ),
    }
}

/// Counts of one round.
#[derive(Debug, Default)]
struct RoundReport {
    /// Credentials walked, failed ones included.
    credentials: u64,
    /// Orders Entrust listed.
    listed: u64,
    /// Orders moved to another state.
    changed: u64,
    /// Changed orders left for the next round because a request held their claim.
    busy: u64,
    /// Credentials and orders whose reconcile failed.
    failed: u64,
    /// The first failure, kept as the round's error.
    first_error: Option<String>,
}

impl RoundReport {
    fn failed(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
    }
}

/// A reason for a round to end early.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("the round stopped because the replica shut down")]
    Stopped,
    #[error("the round's lease ended and another replica took it over")]
    LeaseLost,
    #[error("reading the orders to compare failed")]
    Database(#[from] sqlx::Error),
}

/// A failure while reconciling one credential.
#[derive(Debug, thiserror::Error)]
enum CredentialError {
    #[error(transparent)]
    Round(#[from] RoundError),
    #[error(transparent)]
    Order(#[from] OrderError),
}

/// One round run by the replica `holder`.
struct Round<'a> {
    core: &'a Core,
    holder: &'a str,
    shutdown: &'a CancellationToken,
}

impl Round<'_> {
    async fn run(&self, report: &mut RoundReport) -> Result<(), RoundError> {
        let credentials = portal::credentials(&self.core.pool).await?;
        for credential_id in credentials {
            report.credentials += 1;
            match self.reconcile_credential(&credential_id, report).await {
                Ok(()) => {}
                Err(CredentialError::Round(error)) => return Err(error),
                Err(CredentialError::Order(error)) => {
                    let message = error_chain(&error);
                    tracing::warn!(
                        credential.id = %credential_id, error = %message,
                        "reconciling a credential's orders with Entrust failed; going on with \
                         the next credential"
                    );
                    report.failed(format!("credential {credential_id}: {message}"));
                }
            }
        }
        Ok(())
    }

    async fn reconcile_credential(
        &self,
        credential_id: &str,
        report: &mut RoundReport,
    ) -> Result<(), CredentialError> {
        let authority = self
            .core
            .credentials
            .authority(credential_id)
            .await
            .map_err(OrderError::from)?;
        let listed = self
            .list_changed(credential_id, authority.as_ref(), report)
            .await?;
        let suspended = portal::suspended_tracking_ids(&self.core.pool, credential_id)
            .await
            .map_err(RoundError::from)?;
        let unlisted: Vec<TrackingId> = suspended
            .into_iter()
            .filter(|tracking_id| !listed.contains(tracking_id))
            .filter_map(|tracking_id| u32::try_from(tracking_id).ok())
            .map(TrackingId::new)
            .collect();
        for batch in unlisted.chunks(TRACKING_IDS_PER_REQUEST) {
            let query = OrderQuery {
                filters: vec![OrderFilter::TrackingIds(batch.to_vec())],
                fields: listing_fields(),
                page_size: TRACKING_IDS_PER_REQUEST as u32,
                ..OrderQuery::default()
            };
            let summaries = authority
                .all_orders(query)
                .await
                .map_err(OrderError::Entrust)?;
            self.apply_page(credential_id, summaries, report).await?;
        }
        Ok(())
    }

    /// Pass 1: walks the listing of unexpired certificates that are not active and applies
    /// each page. Returns the tracking ids listed.
    async fn list_changed(
        &self,
        credential_id: &str,
        authority: &dyn CertificateAuthority,
        report: &mut RoundReport,
    ) -> Result<HashSet<i64>, CredentialError> {
        let page_size = self.core.settings.import_page_size;
        let query = OrderQuery {
            statuses: CHANGED_STATUSES.to_vec(),
            filters: vec![OrderFilter::ExpiresAt(Comparison::Greater, self.core.now())],
            fields: listing_fields(),
            page_size,
            ..OrderQuery::default()
        };
        // NOTE: ECS pages by offset. An order whose status changes during the walk may shift
        // across a page boundary and be missed until the next round.
        let mut pages = authority.order_stream(query).try_chunks(page_size as usize);
        let mut listed = HashSet::new();
        while let Some(page) = pages.next().await {
            let (summaries, page_error) = match page {
                Ok(summaries) => (summaries, None),
                Err(error) => (error.0, Some(error.1)),
            };
            listed.extend(summaries.iter().map(|s| i64::from(s.tracking_id.get())));
            self.apply_page(credential_id, summaries, report).await?;
            if let Some(error) = page_error {
                return Err(OrderError::Entrust(error).into());
            }
        }
        Ok(listed)
    }

    /// Moves each order of `credential_id` that `summaries` show in another state, then renews
    /// the round's lease.
    async fn apply_page(
        &self,
        credential_id: &str,
        summaries: Vec<OrderSummary>,
        report: &mut RoundReport,
    ) -> Result<(), RoundError> {
        report.listed += summaries.len() as u64;
        let by_tracking_id: HashMap<i64, OrderSummary> = summaries
            .into_iter()
            .filter(|summary| summary.tracking_id.get() != 0)
            .map(|summary| (i64::from(summary.tracking_id.get()), summary))
            .collect();
        let tracking_ids: Vec<i64> = by_tracking_id.keys().copied().collect();
        let orders = if tracking_ids.is_empty() {
            Vec::new()
        } else {
            portal::compared_orders(&self.core.pool, credential_id, &tracking_ids).await?
        };

        for order in orders {
            let Some(summary) = order
                .tracking_id
                .and_then(|tracking_id| by_tracking_id.get(&tracking_id))
            else {
                continue;
            };
            let state = OrderState::from_entrust(&summary.status);
            if !is_portal_change(order.status, state) {
                continue;
            }
            match apply_change(self.core, &order, summary, state).await {
                Ok(true) => report.changed += 1,
                Ok(false) => report.busy += 1,
                Err(error) => {
                    let message = error_chain(&error);
                    tracing::warn!(
                        order.id = %order.id, entrust.tracking_id = order.tracking_id,
                        error = %message,
                        "recording a change made at Entrust failed; the next round tries again"
                    );
                    report.failed(format!("order {}: {message}", order.id));
                }
            }
        }
        self.keep_lease().await
    }

    /// Renews the lease for another claim lease, or ends the round when the replica is shutting
    /// down or lost the lease.
    async fn keep_lease(&self) -> Result<(), RoundError> {
        if self.shutdown.is_cancelled() {
            return Err(RoundError::Stopped);
        }
        let leased_until = after(self.core.now(), self.core.settings.claim_lease);
        if task_leases::renew(&self.core.pool, TASK, self.holder, leased_until).await? {
            Ok(())
        } else {
            Err(RoundError::LeaseLost)
        }
    }
}

/// Tells whether Entrust's `reported` state is a change the reconcile records for an order in
/// `current`. Orders of issued certificates never go back to PENDING or SUBMITTING.
fn is_portal_change(current: OrderState, reported: OrderState) -> bool {
    reported != current && !matches!(reported, OrderState::Pending | OrderState::Submitting)
}

/// Claims `order` and moves it to `state` as `summary` reports it. Returns `false`, changing
/// nothing, when a request or another task has claimed the order or moved it meanwhile.
async fn apply_change(
    core: &Core,
    order: &OrderRow,
    summary: &OrderSummary,
    state: OrderState,
) -> Result<bool, OrderError> {
    let now = core.now();
    let claimed_until = after(now, core.settings.claim_lease);
    let Some(claimed) =
        claims::claim_for_action(&core.pool, order.id, order.status, now, claimed_until).await?
    else {
        tracing::debug!(
            order.id = %order.id,
            "order claimed by a request; leaving its change at Entrust to the next round"
        );
        return Ok(false);
    };
    let observation = Observation::Settled {
        tracking_id: summary.tracking_id,
        entrust_status: summary.status.as_str().to_owned(),
        state,
    };
    match transition::apply(core, &claimed, observation, STEP).await {
        Ok(updated) if updated.status == state => {
            tracing::info!(
                order.id = %order.id, entrust.tracking_id = summary.tracking_id.get(),
                entrust.status = summary.status.as_str(), order.from = order.status.as_str(),
                order.to = state.as_str(), "recorded a change made at Entrust"
            );
            Ok(true)
        }
        // An import moved the order after the claim, so the move was skipped.
        Ok(_) => {
            release(core, order, claimed_until).await;
            Ok(false)
        }
        Err(error) => {
            release(core, order, claimed_until).await;
            Err(error)
        }
    }
}

/// Ends the claim that [`apply_change`] took until `claimed_until`, when no move ended it.
async fn release(core: &Core, order: &OrderRow, claimed_until: time::OffsetDateTime) {
    if let Err(error) = claims::release(&core.pool, order.id, claimed_until).await {
        tracing::warn!(
            order.id = %order.id, error = %error,
            "releasing an order failed; its claim expires on its own"
        );
    }
}

/// Fields a reconcile listing requests: the tracking id and status are all it reads.
fn listing_fields() -> FieldSelection {
    FieldSelection::Only(vec!["trackingId".to_owned(), "status".to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_changes_are_recorded() {
        assert!(is_portal_change(OrderState::Issued, OrderState::Suspended));
        assert!(is_portal_change(OrderState::Issued, OrderState::Revoked));
        assert!(is_portal_change(OrderState::Suspended, OrderState::Issued));
        assert!(is_portal_change(OrderState::Issued, OrderState::Superseded));
    }

    #[test]
    fn same_or_earlier_states_are_not_changes() {
        assert!(!is_portal_change(OrderState::Issued, OrderState::Issued));
        assert!(!is_portal_change(
            OrderState::Suspended,
            OrderState::Suspended
        ));
        assert!(!is_portal_change(OrderState::Issued, OrderState::Pending));
        assert!(!is_portal_change(
            OrderState::Issued,
            OrderState::Submitting
        ));
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        let interval = Duration::from_secs(900);

        for _ in 0..1_000 {
            let jittered = jittered(interval);

            assert!(jittered >= Duration::from_secs(810), "{jittered:?}");
            assert!(jittered <= Duration::from_secs(990), "{jittered:?}");
        }
    }
}
