//! Per-user rate limiting over 30-second windows, as ECS documents it: each API user may send
//! `quota` requests per window, and the rest get 429 with `X-Rate-Limit-Limit` (the quota) and
//! an integer `Retry-After` (seconds until the window ends, at least 1).
//!
//! A window starts at a user's first request and lasts 30 seconds of the simulator's clock, so
//! with a stopped manual clock it ends only when a test advances the clock. Rejected requests
//! do not count.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// Length of a rate-limit window.
pub const WINDOW: Duration = Duration::seconds(30);

/// A request over the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Whole seconds until the window ends, at least 1.
    pub retry_after_seconds: u64,
    /// The quota.
    pub limit: u32,
}

/// The quota and each user's current window.
#[derive(Debug, Default)]
pub struct RateLimiter {
    inner: Mutex<LimiterInner>,
}

#[derive(Debug, Default)]
struct LimiterInner {
    quota: Option<u32>,
    windows: HashMap<String, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: OffsetDateTime,
    count: u32,
}

impl RateLimiter {
    /// Creates a limiter with `quota` requests per window, or none.
    pub fn new(quota: Option<u32>) -> RateLimiter {
        RateLimiter {
            inner: Mutex::new(LimiterInner {
                quota,
                windows: HashMap::new(),
            }),
        }
    }

    /// Returns the quota.
    pub fn quota(&self) -> Option<u32> {
        self.lock().quota
    }

    /// Sets the quota (`None` turns limiting off) and starts every window afresh.
    pub fn set_quota(&self, quota: Option<u32>) {
        let mut inner = self.lock();
        inner.quota = quota;
        inner.windows.clear();
    }

    /// Counts a request of `user` at `now`, or returns how long it must wait.
    pub fn check(&self, user: &str, now: OffsetDateTime) -> Result<(), Limited> {
        let mut inner = self.lock();
        let Some(quota) = inner.quota else {
            return Ok(());
        };
        let window = inner.windows.entry(user.to_owned()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now >= window.start + WINDOW || now < window.start {
            *window = Window {
                start: now,
                count: 0,
            };
        }
        if window.count < quota {
            window.count += 1;
            return Ok(());
        }
        let remaining = window.start + WINDOW - now;
        let whole = remaining.whole_seconds() + i64::from(remaining.subsec_nanoseconds() > 0);
        Err(Limited {
            retry_after_seconds: u64::try_from(whole.max(1)).unwrap_or(1),
            limit: quota,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const START: OffsetDateTime = datetime!(2026-03-10 15:00:00 UTC);

    #[test]
    fn quota_then_retry_after_until_window_ends() {
        let limiter = RateLimiter::new(Some(2));

        assert!(limiter.check("alice", START).is_ok());
        assert!(
            limiter
                .check("alice", START + Duration::seconds(10))
                .is_ok()
        );
        let limited = limiter
            .check("alice", START + Duration::milliseconds(10_500))
            .unwrap_err();

        assert_eq!(limited.limit, 2);
        assert_eq!(limited.retry_after_seconds, 20);
        assert!(limiter.check("alice", START + WINDOW).is_ok());
    }

    #[test]
    fn users_have_separate_windows() {
        let limiter = RateLimiter::new(Some(1));

        assert!(limiter.check("alice", START).is_ok());
        assert!(limiter.check("bob", START).is_ok());
        assert!(limiter.check("alice", START).is_err());
    }

    #[test]
    fn no_quota_never_limits() {
        let limiter = RateLimiter::new(None);

        for _ in 0..1000 {
            assert!(limiter.check("alice", START).is_ok());
        }
    }

    #[test]
    fn last_second_of_window_still_waits_one_second() {
        let limiter = RateLimiter::new(Some(1));
        limiter.check("alice", START).unwrap();

        let limited = limiter
            .check("alice", START + Duration::milliseconds(29_999))
            .unwrap_err();

        assert_eq!(limited.retry_after_seconds, 1);
    }
}
