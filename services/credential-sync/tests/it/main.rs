//! Integration tests of credential-sync against the real Postgres and NATS servers and the
//! Entrust simulator, each test on its own schema, streams, ports and simulator.

mod catalog;
mod credentials;
mod events;
mod health;
mod proxy;
mod support;
mod sync_runs;
