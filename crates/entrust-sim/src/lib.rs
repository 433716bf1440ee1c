//! A stateful simulator of the Entrust Certificate Services (ECS) Enterprise REST API v2, with
//! its own test CA.
//!
//! The simulator serves `/enterprise/v2` over plain HTTP with HTTP Basic authentication, keeps
//! an account (clients, organizations, domains, inventory, orders) in memory, and issues real
//! X.509 certificates from a root and an intermediate generated at start. Field names, status
//! values and error bodies follow the ECS API 2.1.0 specification and the behaviour of its
//! production clients. A control API under `/_sim` lets tests approve orders, read the request
//! log and fetch the CA certificates.
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
mod format;
mod json_fields;
pub mod model;
mod names;
mod ordering;
mod request_log;
pub mod scenario;
mod server;
mod simulator;
mod state;

pub use error::{ErrorBody, FieldError};
pub use ordering::CertificateResponse;
pub use request_log::LoggedRequest;
pub use scenario::{Scenario, ScenarioError};
pub use server::{RunningSimulator, SimConfig};
