//! The periodic schedule: every credential whose last sync started longer than the interval
//! ago gets a new one.
//!
//! Every replica runs the schedule. Two replicas that find the same credential due both call
//! [`SyncLauncher::start`], and the one-running-run rule makes the second join the first's run,
//! so a due credential is synced once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{SyncLauncher, Trigger};
use crate::error::error_chain;

/// Credentials started per check, so that a replica starting after a long outage spreads the
/// backlog over several checks.
const MAX_STARTS_PER_CHECK: i64 = 100;

/// Maximum time between two checks for due credentials.
const MAX_CHECK_PERIOD: Duration = Duration::from_secs(60);

/// Minimum time between two checks, whatever the interval.
const MIN_CHECK_PERIOD: Duration = Duration::from_millis(100);

/// Starts the syncs that are due, checking a few times per `interval` (at most every minute),
/// until `shutdown` fires. The first check runs at once.
pub async fn run_schedule(launcher: SyncLauncher, interval: Duration, shutdown: CancellationToken) {
    let period = (interval / 6).clamp(MIN_CHECK_PERIOD, MAX_CHECK_PERIOD);
    tracing::info!(
        sync.interval_s = interval.as_secs(),
        "catalog sync schedule started"
    );
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => start_due(&launcher, interval).await,
        }
    }
    tracing::info!("catalog sync schedule stopped");
}

/// Starts a sync of every credential whose last run started more than `interval` ago.
// NOTE: a failed run counts like a successful one, so its retry waits for the whole interval
// unless someone calls SyncCatalog.
async fn start_due(launcher: &SyncLauncher, interval: Duration) {
    let started_after = launcher.now() - interval;
    let due = match launcher
        .due_credentials(started_after, MAX_STARTS_PER_CHECK)
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(
                error = %error_chain(&error),
                "finding credentials due for a catalog sync failed; retrying at the next check"
            );
            return;
        }
    };
    for credential_id in due {
        if let Err(error) = launcher.start(credential_id, Trigger::Schedule).await {
            tracing::warn!(
                credential.id = %credential_id,
                error = %error_chain(&error),
                "starting the scheduled catalog sync of credential {credential_id} failed; \
                 retrying at the next check"
            );
        }
    }
}
