//! The inventory service: generates key pairs and CSRs for orders, keeps private keys sealed, and
//! stores every certificate that enters Certitude with its chain and parsed facts.
//!
//! [`start`] runs the service: the gRPC `InventoryService` (GenerateKey, ListCertificates,
//! GetCertificate), `/healthz` and `/readyz`, the durable consumers of CertificateIssued
//! (`inventory-certificate-issued`) and OrderStatusChanged (`inventory-order-status-changed`),
//! and the outbox relay that publishes CertificateAddedToInventory.

pub mod certificate;
pub mod certificate_store;
pub mod config;
pub mod grpc;
pub mod ingest;
pub mod key_service;
pub mod key_store;
pub mod keys;
pub mod order_status;
pub mod sealed;
mod service;

pub use config::Config;
pub use service::{MIGRATOR, RunningService, SERVICE_NAME, start};
