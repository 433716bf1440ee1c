//! The clock every Certitude component reads time from.
//!
//! Services take a [`SharedClock`] and bind `clock.now()` as a SQL parameter instead of calling
//! Postgres' `now()`, so a test that moves a [`ManualClock`] moves the services, their queries and
//! the Entrust simulator together, without sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// A source of the current time, in UTC.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Returns the current instant.
    fn now(&self) -> OffsetDateTime;
}

/// A clock shared between tasks and components.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Returns the system clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when a caller sets or advances it, for tests and the simulator's
/// control API.
///
/// Clones share the same instant, so a test keeps one clone and hands the others out.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// Creates a clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock to `instant`, which may lie in the past.
    pub fn set(&self, instant: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = instant;
    }

    /// Moves the clock forward by `by` (backward for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Returns this clock as a [`SharedClock`] that follows every later `set` and `advance`.
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2028-02-28 23:00 UTC));
        let shared = clock.shared();

        clock.advance(Duration::hours(2));

        assert_eq!(shared.now(), datetime!(2028-02-29 01:00 UTC));
    }

    #[test]
    fn manual_clock_set_goes_back_in_time() {
        let clock = ManualClock::new(datetime!(2030-01-01 00:00 UTC));

        clock.set(datetime!(2026-03-15 00:00 UTC));

        assert_eq!(clock.now(), datetime!(2026-03-15 00:00 UTC));
    }

    #[test]
    fn system_clock_is_utc() {
        assert_eq!(system().now().offset(), time::UtcOffset::UTC);
    }
}
