//! Endpoints of the ECS Enterprise API v2, one module per resource, as methods on
//! [`EntrustClient`](crate::EntrustClient).

mod account;
mod certificates;
