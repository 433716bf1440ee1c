//! A request budget per Entrust credential, shared by every client that uses the credential.
//!
//! Entrust counts the requests of each API user in 30-second windows and returns HTTP 429 once
//! the account's quota is used up. A [`RateBudget`] keeps Certitude under that quota before
//! Entrust has to throttle it: every HTTP attempt, retries included, first takes a slot with
//! [`RateBudget::acquire`], which waits until one is free.
//!
//! The budget is a sliding window. A request is sent only when fewer than
//! [`RateQuota::requests`] were sent in the [`RateQuota::window`] before it, plus a margin of a
//! thirtieth of the window (1 s of Entrust's 30 s) for requests delayed on their way. That
//! keeps every span of one window within the quota, whether Entrust counts in fixed or sliding
//! windows and wherever its fixed windows start.
//!
//! - [`InMemoryRateBudget`] serves the clients of one process.
//! - `PostgresRateBudget` (cargo feature `postgres`) stores the budget in a table, so every
//!   replica of every service that points at the same table shares one quota.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;

use std::time::Duration;

use async_trait::async_trait;

pub use memory::InMemoryRateBudget;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresRateBudget, RATE_WINDOWS_TABLE_SQL};

/// The window in which Entrust counts requests.
pub const ENTRUST_RATE_WINDOW: Duration = Duration::from_secs(30);

/// Smallest window a [`RateQuota`] accepts.
pub const MIN_RATE_WINDOW: Duration = Duration::from_millis(30);

/// How many requests one credential may send per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    requests: u32,
    window: Duration,
}

impl RateQuota {
    /// Creates a quota of `requests` per `window`.
    ///
    /// # Errors
    ///
    /// [`RateBudgetError::Config`] when `requests` is 0 or `window` is shorter than
    /// [`MIN_RATE_WINDOW`].
    pub fn new(requests: u32, window: Duration) -> Result<Self, RateBudgetError> {
        if requests == 0 {
            return Err(RateBudgetError::Config {
                field: "requests",
                reason: "must be at least 1 request per window".to_owned(),
            });
        }
        if window < MIN_RATE_WINDOW {
            return Err(RateBudgetError::Config {
                field: "window",
                reason: format!(
                    "{window:?} is too short: use at least {MIN_RATE_WINDOW:?} (Entrust counts \
                     per 30 s)"
                ),
            });
        }
        Ok(Self { requests, window })
    }

    /// Creates a quota of `requests` per Entrust's 30-second window.
    ///
    /// # Errors
    ///
    /// [`RateBudgetError::Config`] when `requests` is 0.
    pub fn per_entrust_window(requests: u32) -> Result<Self, RateBudgetError> {
        Self::new(requests, ENTRUST_RATE_WINDOW)
    }

    /// Returns the requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Returns the window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Returns how long a sent request counts against the quota: the window plus a thirtieth
    /// of it as a margin for network delay.
    pub fn hold(&self) -> Duration {
        self.window + self.window / 30
    }
}

/// Errors of a rate budget.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateBudgetError {
    /// A setting of the budget is unusable.
    #[error("invalid Entrust rate budget setting {field}: {reason}")]
    Config {
        /// The setting at fault.
        field: &'static str,
        /// Explanation and fix.
        reason: String,
    },

    /// The store of the shared budget failed.
    #[error("failed to {action} the shared Entrust rate budget in {store}")]
    Store {
        /// The attempted action, for example `take a slot from`.
        action: &'static str,
        /// The kind of store, for example `Postgres`.
        store: &'static str,
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A budget of requests per credential, shared by every client that uses it.
///
/// Implementations must be safe to call from many tasks (and, for shared stores, many
/// processes) at once.
#[async_trait]
pub trait RateBudget: Send + Sync + std::fmt::Debug {
    /// Waits until one more request for `credential_key` fits the quota, then records it.
    ///
    /// A caller that cancels the future may or may not have taken a slot; an unused slot only
    /// delays later requests.
    ///
    /// # Errors
    ///
    /// [`RateBudgetError::Store`] when a shared store cannot be read or updated. The request
    /// must then not be sent, so the quota is kept even while the store is down.
    async fn acquire(&self, credential_key: &str) -> Result<(), RateBudgetError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_rejects_zero_requests_and_tiny_windows() {
        assert!(matches!(
            RateQuota::new(0, ENTRUST_RATE_WINDOW),
            Err(RateBudgetError::Config {
                field: "requests",
                ..
            })
        ));
        assert!(matches!(
            RateQuota::new(5, Duration::from_millis(29)),
            Err(RateBudgetError::Config {
                field: "window",
                ..
            })
        ));
    }

    #[test]
    fn entrust_quota_uses_thirty_second_window() -> Result<(), RateBudgetError> {
        let quota = RateQuota::per_entrust_window(100)?;

        assert_eq!(quota.requests(), 100);
        assert_eq!(quota.window(), Duration::from_secs(30));
        assert_eq!(quota.hold(), Duration::from_secs(31));
        Ok(())
    }
}
