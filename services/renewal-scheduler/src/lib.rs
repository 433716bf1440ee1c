//! The renewal scheduler: auto-renewal policies, the renewal schedule of every certificate,
//! expiry warnings, and the Auto-Renewal Audit.
//!
//! [`start`] runs the service: the gRPC `RenewalService`, `/healthz` and `/readyz`, the
//! durable consumers of CertificateIssued (`renewal-certificate-issued`) and
//! CertificateRevoked (`renewal-certificate-revoked`), the outbox relay, and the
//! [`renewer::Renewer`] loop that claims due renewals and sends expiry warnings.

pub mod audit_store;
pub mod config;
pub mod deletions;
pub mod expiry_store;
pub mod grpc;
pub mod ingest;
pub mod plan;
pub mod policy;
pub mod policy_store;
pub mod renewer;
pub mod revocations;
pub mod schedule_store;
mod service;
pub mod warnings;

pub use config::Config;
pub use service::{MIGRATOR, RunningService, SERVICE_NAME, start};
