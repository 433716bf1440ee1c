//! What every Certitude service shares: typed configuration, telemetry, the Postgres pool with
//! per-schema migrations and roles, the gRPC server with health and graceful shutdown, the
//! transactional outbox and its relay to NATS JetStream, the durable event consumer with its inbox
//! and dead-letter stream, the sealing of secrets, and the clock. The `service` module puts
//! these together into a service's start-up steps and its set of running tasks.

pub mod config;
pub mod consumer;
pub mod db;
pub mod events;
pub mod grpc;
pub mod health;
pub mod outbox;
pub mod seal;
pub mod service;
pub mod shutdown;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use certitude_clock as clock;
