//! Integration tests of order-manager on the real Postgres and NATS, with the Entrust
//! simulator serving the demo scenario.

mod approval;
mod counting;
mod creating;
mod importing;
mod key_check;
mod reconciling;
mod support;
