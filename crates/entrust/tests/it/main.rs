//! Integration tests of the Entrust client: transport behaviour against a scripted HTTP server,
//! and every endpoint against the ECS simulator.

mod helpers;
mod sim;
mod sim_catalog;
mod sim_ordering;
mod sim_orders;
mod transport;
