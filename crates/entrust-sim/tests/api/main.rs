//! Tests of the simulated ECS API over HTTP, against a simulator started per test with the demo
//! scenario and a clock stopped at 2026-03-10T15:00:00Z.

// clippy allows unwrap inside #[test] functions but not in the shared helpers they call; a
// failed unwrap there fails the test, which is the intent.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on unexpected input"
)]

mod application;
mod auth;
mod binary;
mod certificate_detail;
mod certificate_list;
mod certificate_order;
mod clients;
mod control;
mod control_portal;
mod domain_detail;
mod domains;
mod faults;
mod helpers;
mod mtls;
mod organizations;
mod patch;
mod rate_limit;
mod reissue;
mod renew;
mod revoke;
mod thumbprints;
