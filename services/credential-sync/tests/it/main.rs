//! Integration tests of credential-sync against the real Postgres and NATS servers and the
//! Entrust simulator, each test on its own schema, streams, ports and simulator.

mod bench_smoke;
mod catalog;
mod credentials;
mod deleting;
mod events;
mod faults;
mod health;
mod logs;
mod order_manager;
mod ordering;
mod permission;
mod proxy;
mod replicas;
mod support;
mod sync_kinds;
mod sync_runs;
mod updating;
