//! Integration tests of the Entrust client: transport behaviour against a scripted HTTP server,
//! every endpoint against the ECS simulator, and the contract with the ECS API definition.

mod bench_smoke;
mod contract_requests;
mod contract_responses;
mod contract_spec;
mod domain_paging;
mod helpers;
mod rate_budget;
mod sim;
mod sim_account;
mod sim_catalog;
mod sim_faults;
mod sim_lifecycle;
mod sim_ordering;
mod sim_orders;
mod sim_paging;
mod sim_rejections;
mod sim_successors;
mod transport;
mod writes;
