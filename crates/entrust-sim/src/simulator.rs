//! The simulator core the HTTP handlers, the control API and [`crate::RunningSimulator`] share:
//! the account state behind a mutex, the test CA, the clock and the request log.

use std::sync::{Mutex, MutexGuard, PoisonError};

use certitude_clock::SharedClock;
use time::OffsetDateTime;

use crate::ca::TestCa;
use crate::error::ApiError;
use crate::ordering::{CertificateResponse, approve_order};
use crate::request_log::RequestLog;
use crate::scenario::Scenario;
use crate::state::{SimState, seed_state};

/// Everything one running simulator owns.
#[derive(Debug)]
pub(crate) struct Simulator {
    state: Mutex<SimState>,
    /// The test CA.
    pub ca: TestCa,
    /// The source of all time.
    pub clock: SharedClock,
    /// API requests seen so far.
    pub log: RequestLog,
}

impl Simulator {
    /// Checks the scenario, generates the CA and builds the starting state. This generates one
    /// key per scenario order, so it is CPU-bound; call it off the async runtime.
    pub fn new(scenario: &Scenario, clock: SharedClock) -> anyhow::Result<Simulator> {
        scenario.validate()?;
        let now = clock.now();
        let ca = TestCa::generate(now)?;
        let state = seed_state(scenario, &ca, now)?;
        Ok(Simulator {
            state: Mutex::new(state),
            ca,
            clock,
            log: RequestLog::default(),
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

    /// Approves a PENDING order and issues its certificate.
    pub fn approve(&self, tracking_id: i64) -> Result<CertificateResponse, ApiError> {
        let now = self.now();
        let mut state = self.state();
        approve_order(&mut state, &self.ca, now, tracking_id)
    }
}
