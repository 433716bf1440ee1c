//! The inventory service: generates key pairs and CSRs for orders, keeps private keys sealed, and
//! stores every certificate that enters Certitude with its chain and parsed facts, counted
//! against the license, with its lineage (renewal, reissue) and its deployment locations.
//!
//! [`start`] runs the service: the gRPC `InventoryService` (keys, certificate search, license,
//! deployments, import and export of certificate files), `/healthz` and `/readyz`, the durable
//! consumers of CertificateIssued (`inventory-certificate-issued`) and OrderStatusChanged
//! (`inventory-order-status-changed`), and the outbox relay that publishes the inventory's
//! events.

pub mod certificate;
pub mod certificate_store;
pub mod config;
pub mod deployment_store;
pub mod deployments;
pub mod events;
pub mod files;
mod gauges;
pub mod grpc;
pub mod ingest;
pub mod key_service;
pub mod key_store;
pub mod keys;
pub mod license;
pub mod lifecycle;
pub mod order_status;
pub mod sealed;
pub mod search;
mod service;

pub use config::Config;
pub use service::{MIGRATOR, RunningService, SERVICE_NAME, start};
