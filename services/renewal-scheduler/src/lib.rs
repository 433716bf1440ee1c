//! The renewal scheduler. For now it records the expiry of every certificate that enters
//! Certitude and serves it over gRPC. Renewal policies, due-certificate claims and expiry
//! warnings are to build on this table.
//!
//! [`start`] runs the service: the gRPC `RenewalService` (GetExpiry), `/healthz` and `/readyz`,
//! and the durable consumer of CertificateIssued (`renewal-certificate-issued`).

pub mod config;
pub mod expiry_store;
pub mod grpc;
pub mod ingest;
mod service;

pub use config::Config;
pub use service::{MIGRATOR, RunningService, SERVICE_NAME, start};
