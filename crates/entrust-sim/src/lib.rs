//! A stateful simulator of the Entrust Certificate Services (ECS) Enterprise REST API v2, with
//! its own test CA.
//!
//! The simulator serves `/enterprise/v2` over plain HTTP or HTTPS with HTTP Basic
//! authentication, plus client certificates for API users bound to one. It keeps an account
//! (clients, organizations, domains, inventory, orders) in memory and issues real X.509
//! certificates from a root and an intermediate generated at start. Field names, status values
//! and error bodies follow the ECS API 2.1.0 specification and the behaviour of its production
//! clients. A control API under `/_sim`, mirrored by methods of [`RunningSimulator`], lets tests
//! act as an Entrust administrator, move the clock, inject faults and read the request log.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use entrust_sim::{RunningSimulator, Scenario, SimConfig};
//!
//! let simulator = RunningSimulator::start(SimConfig {
//!     scenario: Scenario::demo(),
//!     clock: certitude_clock::system(),
//!     listen: "127.0.0.1:0".parse()?,
//! })
//! .await?;
//! println!("ECS API at {}", simulator.base_url());
//! simulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod ca;
mod cert_facts;
mod control;
mod csr;
mod error;
mod faults;
mod format;
mod identity;
mod json_fields;
pub mod model;
mod names;
mod ordering;
mod portal;
mod rate_limit;
mod request_log;
pub mod scenario;
mod server;
mod simulator;
mod state;

pub use error::{ErrorBody, FieldError};
pub use faults::{ArmedFault, CommitFailure, Fault, FaultKind};
pub use identity::ClientIdentity;
pub use ordering::CertificateResponse;
pub use portal::{DomainUpdate, OrganizationUpdate};
pub use request_log::LoggedRequest;
pub use scenario::{GenerateOptions, Scenario, ScenarioError};
pub use server::{RunningSimulator, SimConfig, SimOptions};
pub use state::Revocation;
