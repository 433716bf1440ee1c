//! credential-sync: the holder of Certitude's Entrust credentials and of the catalog mirrored
//! from each credential's account (organizations, domains, products).
//!
//! A new credential is checked against Entrust, stored with its API key and client key sealed
//! by the platform keyring, announced with a CredentialAdded event, and synced at once. A new
//! API key or client certificate is checked the same way before it replaces the old one
//! (CredentialUpdated). A credential is deleted (CredentialRemoved) only once order-manager
//! reports no order using it, unless the deletion is forced. An Entrust 403 to an
//! administrator action, reported by order-manager or met by a sync, marks the credential as
//! lacking administrator rights.
//!
//! Syncs run on a schedule (with jitter), and on demand for chosen kinds and for one or every
//! credential. Each run stores the kinds Entrust listed in one transaction, counts what was
//! added, changed and removed, and ends with a CatalogSynced event. Other services get a
//! usable credential only through the ResolveCredential call.
//!
//! The library exposes [`Config`] and [`start`]; the `certitude` binary wraps them in a
//! subcommand. [`start_with_orders`] takes an [`OrderCounter`] to use in place of
//! order-manager.

mod catalog;
mod client_cache;
mod config;
mod credentials;
mod entrust_api;
mod error;
mod grpc;
mod order_manager;
mod paging;
pub mod sealed;
mod service;
mod state;
mod sync;

pub use config::{Config, DEFAULT_SCHEMA};
pub use order_manager::{GrpcOrderCounter, OrderCountError, OrderCounter};
pub use service::{MIGRATOR, RunningService, SERVICE_NAME, start, start_with_orders};
