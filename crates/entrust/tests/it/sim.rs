//! Starting the ECS simulator with the demo scenario and clients of its API users.

use certitude_clock::ManualClock;
use entrust::EntrustClient;
use entrust::model::TrackingId;
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use time::macros::datetime;
use time::{Date, Duration, OffsetDateTime};

use crate::helpers;

/// Demo API users and their keys.
pub const ADMIN_USER: &str = "demo-admin";
pub const ADMIN_KEY: &str = "sim-demo-admin-key";
pub const REQUESTER_USER: &str = "demo-requester";
pub const REQUESTER_KEY: &str = "sim-demo-requester-key";

/// The simulator's clock time. Scenario dates are relative to it.
pub const NOW: OffsetDateTime = datetime!(2026-03-02 12:00 UTC);

/// Tracking id of the first demo order; the others follow in scenario order.
pub const FIRST_TRACKING_ID: u32 = 2_100_000;

pub struct Sim {
    pub server: RunningSimulator,
    pub admin: EntrustClient,
    pub scenario: Scenario,
}

impl Sim {
    /// Starts a simulator of the demo account on a free loopback port.
    pub async fn start() -> anyhow::Result<Sim> {
        let scenario = Scenario::demo();
        let clock = ManualClock::new(NOW);
        let server = RunningSimulator::start(SimConfig {
            scenario: scenario.clone(),
            clock: clock.shared(),
            listen: "127.0.0.1:0".parse()?,
        })
        .await?;
        let admin = helpers::client(&server.base_url(), ADMIN_USER, ADMIN_KEY)?;
        Ok(Sim {
            server,
            admin,
            scenario,
        })
    }

    /// Builds a client of this simulator with other credentials.
    pub fn client(&self, username: &str, api_key: &str) -> anyhow::Result<EntrustClient> {
        helpers::client(&self.server.base_url(), username, api_key)
    }

    /// Tracking id of the scenario order at `index` (file order).
    pub fn tracking_id(index: u32) -> TrackingId {
        TrackingId::new(FIRST_TRACKING_ID + index)
    }

    /// Returns a valid expiry date for a new order, 90 days after the simulator's clock.
    pub fn expiry() -> Date {
        (NOW + Duration::days(90)).date()
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
