//! The simulator core the HTTP handlers, the control API and [`crate::RunningSimulator`] share:
//! the account state behind a mutex, the test CA, the clock, the request log, the armed faults,
//! the rate limiter and the client certificates bound to API users.

use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use certitude_clock::{ManualClock, SharedClock};
use time::OffsetDateTime;

use crate::ca::TestCa;
use crate::error::ApiError;
use crate::faults::FaultPlan;
use crate::identity::Bindings;
use crate::ordering::{IssueContext, KeyPool};
use crate::rate_limit::RateLimiter;
use crate::request_log::RequestLog;
use crate::scenario::Scenario;
use crate::state::{SimState, seed_state};

/// Everything one running simulator owns.
#[derive(Debug)]
pub(crate) struct Simulator {
    state: Mutex<SimState>,
    /// The state at start, which a reset returns to.
    initial: SimState,
    /// The test CA.
    pub ca: TestCa,
    /// Keys of scenario orders.
    pub keys: KeyPool,
    clock: SharedClock,
    manual_clock: Option<ManualClock>,
    /// API requests seen so far.
    pub log: RequestLog,
    /// Armed faults.
    pub faults: FaultPlan,
    /// Per-user rate limits.
    pub limiter: RateLimiter,
    /// Client certificates bound to API users.
    pub bindings: Bindings,
}

impl Simulator {
    /// Checks the scenario, generates the CA and the bound client certificates, and builds the
    /// starting state. When `manual_clock` is given the simulator reads time from it (and
    /// ignores `clock`), so that the control API can move it.
    pub fn new(
        scenario: &Scenario,
        clock: SharedClock,
        manual_clock: Option<ManualClock>,
    ) -> anyhow::Result<Simulator> {
        scenario.validate()?;
        let clock = match &manual_clock {
            Some(manual) => manual.shared(),
            None => clock,
        };
        let now = clock.now();
        let ca = TestCa::generate(now)?;
        let bindings = Bindings::new(&scenario.api_users, &ca, now)
            .context("failed to set up the client certificates of API users")?;
        let state = seed_state(scenario, now)?;
        Ok(Simulator {
            limiter: RateLimiter::new(state.account.rate_limit_quota),
            initial: state.clone(),
            state: Mutex::new(state),
            ca,
            keys: KeyPool::default(),
            clock,
            manual_clock,
            log: RequestLog::default(),
            faults: FaultPlan::default(),
            bindings,
        })
    }

    /// Locks the account state. A panic in another request does not poison it for the rest.
    pub fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the current time of the simulator's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Runs `change` on the locked state with an issue context taken at the current time.
    pub fn with_state<T>(
        &self,
        change: impl FnOnce(&mut SimState, &IssueContext<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let context = IssueContext {
            ca: &self.ca,
            keys: &self.keys,
            now: self.now(),
        };
        let mut state = self.state();
        change(&mut state, &context)
    }

    /// Returns the manual clock, or a 409 when the simulator runs on another clock.
    pub fn manual_clock(&self) -> Result<&ManualClock, ApiError> {
        self.manual_clock.as_ref().ok_or_else(|| {
            ApiError::Conflict(
                "The simulator does not run on a manual clock; start it with one (SimOptions \
                 manual_clock, or --manual-clock) to move time through the control API."
                    .to_owned(),
            )
        })
    }

    /// Returns the state to the scenario's, clears the request log and the faults, and starts
    /// every rate-limit window afresh with the scenario's quota. The clock is not moved.
    pub fn reset(&self) {
        *self.state() = self.initial.clone();
        self.log.clear();
        self.faults.clear();
        self.limiter
            .set_quota(self.initial.account.rate_limit_quota);
    }
}
