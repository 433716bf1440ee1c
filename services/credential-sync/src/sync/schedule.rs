//! The periodic schedule: every credential whose last sync of every kind started longer than
//! its jittered interval ago gets a new one.
//!
//! Each credential waits the configured interval plus or minus up to 10 % ([`JITTER`]) between
//! two scheduled syncs, so that credentials added or synced together drift apart instead of
//! calling Entrust at the same moment each time. The offset is drawn anew for every run, from
//! the random low bits of the previous run's id. Every replica thus computes the same due time
//! for a credential.
//!
//! Every replica runs the schedule. Two replicas that find the same credential due both call
//! [`SyncLauncher::start`], and the one-running-run rule makes the second join the first's run,
//! so a due credential is synced once.

use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{SyncLauncher, Trigger};
use crate::catalog::KindSet;
use crate::error::error_chain;

/// Largest share of the interval by which one credential's wait is lengthened or shortened.
pub const JITTER: f64 = 0.1;

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

/// Returns the wait after run `previous_run` before the next scheduled sync: `interval`
/// lengthened or shortened by up to [`JITTER`] of itself. The low 32 bits of a UUIDv7 are
/// random, so the offset is spread evenly over the range.
pub fn jittered_interval(interval: Duration, previous_run: Uuid) -> Duration {
    // Truncating to the low 32 bits is the point.
    let random_bits = previous_run.as_u128() as u32;
    let unit = f64::from(random_bits) / f64::from(u32::MAX);
    interval.mul_f64(1.0 + JITTER * (2.0 * unit - 1.0))
}

/// Returns whether a credential whose last full sync was `last` is due at `now`.
fn is_due(last: Option<(Uuid, OffsetDateTime)>, interval: Duration, now: OffsetDateTime) -> bool {
    match last {
        None => true,
        Some((run_id, started_at)) => started_at + jittered_interval(interval, run_id) <= now,
    }
}

/// Starts a sync of every kind for each credential that is due.
// NOTE: a failed run counts like a successful one, so its retry waits for the whole interval
// unless someone calls SyncCatalog.
async fn start_due(launcher: &SyncLauncher, interval: Duration) {
    let now = launcher.now();
    let earliest_due = now - interval.mul_f64(1.0 - JITTER);
    let candidates = match launcher
        .last_full_syncs(earliest_due, MAX_STARTS_PER_CHECK)
        .await
    {
        Ok(candidates) => candidates,
        Err(error) => {
            tracing::warn!(
                error = %error_chain(&error),
                "finding credentials due for a catalog sync failed; retrying at the next check"
            );
            return;
        }
    };
    for candidate in candidates {
        let last = candidate.run_id.zip(candidate.started_at);
        if !is_due(last, interval, now) {
            continue;
        }
        let credential_id = candidate.credential_id;
        let started = launcher
            .start(credential_id, Trigger::Schedule, KindSet::all())
            .await;
        if let Err(error) = started {
            tracing::warn!(
                credential.id = %credential_id,
                error = %error_chain(&error),
                "starting the scheduled catalog sync of credential {credential_id} failed; \
                 retrying at the next check"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(6 * 60 * 60);

    fn run_id(low_bits: u32) -> Uuid {
        let id = Uuid::now_v7().as_u128() & !u128::from(u32::MAX);
        Uuid::from_u128(id | u128::from(low_bits))
    }

    #[test]
    fn jitter_spans_ten_percent_each_way() {
        let shortest = jittered_interval(INTERVAL, run_id(0));
        let middle = jittered_interval(INTERVAL, run_id(u32::MAX / 2));
        let longest = jittered_interval(INTERVAL, run_id(u32::MAX));

        assert_eq!(shortest, INTERVAL.mul_f64(0.9));
        assert_eq!(longest, INTERVAL.mul_f64(1.1));
        let drift = middle.as_secs_f64() - INTERVAL.as_secs_f64();
        assert!(drift.abs() < 1.0, "{middle:?}");
    }

    #[test]
    fn fresh_run_ids_stay_within_the_jitter() {
        for _ in 0..1000 {
            let wait = jittered_interval(INTERVAL, Uuid::now_v7());

            assert!(wait >= INTERVAL.mul_f64(0.9), "{wait:?}");
            assert!(wait <= INTERVAL.mul_f64(1.1), "{wait:?}");
        }
    }

    #[test]
    fn credential_is_due_after_its_own_wait() {
        let now = OffsetDateTime::now_utc();
        let early = run_id(0);
        let late = run_id(u32::MAX);
        let started = now - INTERVAL;

        assert!(is_due(None, INTERVAL, now));
        assert!(is_due(Some((early, started)), INTERVAL, now));
        assert!(!is_due(Some((late, started)), INTERVAL, now));
        assert!(is_due(
            Some((late, started)),
            INTERVAL,
            now + INTERVAL.mul_f64(0.1)
        ));
    }
}
