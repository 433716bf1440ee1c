//! order-manager: owns Certitude's Entrust orders. It places new orders with keys from the
//! inventory and tracks them with a background poller, with backoff, until Entrust issues or
//! settles them. It reconciles submissions whose outcome was lost, and records what changed in
//! the Entrust portal to issued and suspended orders (the portal reconcile). It imports a
//! credential's existing orders, carries out administrator operations on them (approve, decline, suspend,
//! resume, renew, reissue, revoke) and deletes them from Certitude, and announces each step as
//! an event through its outbox. From the inventory's events it records on each order whether
//! the order's certificate is in the inventory.
//!
//! Orders are never placed twice: a repeated idempotency key returns the first order, the order
//! row and its marker are committed before Entrust is called, and a lost response is settled by
//! looking the marker up at Entrust before any second submission. An issued certificate is
//! accepted only when its public key is the one in the order's CSR.

mod admin;
pub mod config;
mod core;
pub mod credential_cache;
mod error;
mod events;
mod gauges;
mod grpc;
mod import;
pub mod inventory_events;
mod orders;
mod poller;
mod portal_reconcile;
mod reconcile;
pub mod renewal_policies;
mod service;
pub mod sources;
pub mod state;
mod store;

pub use config::Config;
pub use service::{RunningService, SERVICE_NAME, Sources, start, start_with_sources};
pub use sources::{
    AdministratorRight, CredentialSource, GeneratedKey, KeyRequest, KeySource, ResolvedAuthority,
    SourceError,
};
pub use state::OrderState;
