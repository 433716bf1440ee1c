//! The state every part of the service shares: the pool, the clock, the outbox, the sources and
//! the timing settings.

use std::sync::Arc;
use std::time::Duration;

use certitude_platform::clock::SharedClock;
use certitude_platform::outbox::Outbox;
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::config::Config;
use crate::sources::{CredentialSource, KeySource};

/// Timing and sizing settings taken from [`Config`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub default_validity_days: u32,
    pub private_max_validity_days: u32,
    pub poll_interval: Duration,
    pub poll_max_backoff: Duration,
    pub poll_batch_size: u32,
    pub claim_lease: Duration,
    pub reconcile_window: Duration,
    pub portal_reconcile_interval: Duration,
    pub import_page_size: u32,
    pub import_fetch_concurrency: u32,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            default_validity_days: config.default_validity_days,
            private_max_validity_days: config.private_max_validity_days,
            poll_interval: config.poll_interval,
            poll_max_backoff: config.poll_max_backoff,
            poll_batch_size: config.poll_batch_size,
            claim_lease: config.claim_lease,
            reconcile_window: config.reconcile_window,
            portal_reconcile_interval: config.portal_reconcile_interval,
            import_page_size: config.import_page_size,
            import_fetch_concurrency: config.import_fetch_concurrency,
        }
    }

    /// Returns the wait before the next check of an order already checked `attempts` times:
    /// the poll interval doubled per attempt, capped at the maximum backoff.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(0);
        self.poll_interval
            .saturating_mul(1 << exponent)
            .min(self.poll_max_backoff)
    }
}

/// Shared state of the service's tasks and handlers.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
    pub credentials: Arc<dyn CredentialSource>,
    pub keys: Arc<dyn KeySource>,
    pub settings: Settings,
}

impl Core {
    /// Returns the current instant of the service's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// Adds a standard duration to an instant, saturating far in the future.
pub(crate) fn after(instant: OffsetDateTime, duration: Duration) -> OffsetDateTime {
    let duration = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
    instant.checked_add(duration).unwrap_or(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            default_validity_days: 365,
            private_max_validity_days: 825,
            poll_interval: Duration::from_secs(10),
            poll_max_backoff: Duration::from_secs(60),
            poll_batch_size: 10,
            claim_lease: Duration::from_secs(300),
            reconcile_window: Duration::from_secs(600),
            portal_reconcile_interval: Duration::from_secs(900),
            import_page_size: 500,
            import_fetch_concurrency: 8,
        }
    }

    #[test]
    fn backoff_doubles_per_attempt() {
        let settings = settings();

        assert_eq!(settings.backoff(0), Duration::from_secs(10));
        assert_eq!(settings.backoff(1), Duration::from_secs(20));
        assert_eq!(settings.backoff(2), Duration::from_secs(40));
    }

    #[test]
    fn backoff_stops_at_the_cap() {
        let settings = settings();

        assert_eq!(settings.backoff(3), Duration::from_secs(60));
        assert_eq!(settings.backoff(1_000), Duration::from_secs(60));
    }
}
