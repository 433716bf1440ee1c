//! Endpoints of the ECS Enterprise API v2, one module per resource, as methods on
//! [`EntrustClient`](crate::EntrustClient).

mod account;
mod bodies;
mod certificates;
mod clients;
mod domains;
mod lifecycle;
mod query;
mod reorders;
