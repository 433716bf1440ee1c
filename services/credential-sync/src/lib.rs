//! credential-sync: the holder of Certitude's Entrust credentials and of the catalog mirrored
//! from each credential's account (organizations, domains, products).
//!
//! A new credential is checked against Entrust, stored with its API key and client key sealed
//! by the platform keyring, announced with a CredentialAdded event, and synced at once. Later
//! syncs run on a schedule and on demand; each run stores the whole catalog in one transaction
//! and ends with a CatalogSynced event. Other services get a usable credential only through
//! the ResolveCredential call.
//!
//! The library exposes [`Config`] and [`start`]; the `certitude` binary wraps them in a
//! subcommand.

mod catalog;
mod config;
mod credentials;
mod entrust_api;
mod error;
mod grpc;
mod paging;
mod service;
mod state;
mod sync;

pub use config::{Config, DEFAULT_SCHEMA};
pub use service::{MIGRATOR, RunningService, SERVICE_NAME, start};
