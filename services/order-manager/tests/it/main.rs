//! Integration tests of order-manager on the real Postgres and NATS, with the Entrust
//! simulator serving the demo scenario. The administrator operations' tests also start
//! credential-sync, which resolves their credentials (see `admin_support`).

mod admin_support;
mod administering;
mod approval;
mod counting;
mod creating;
mod deleting;
mod fault_tolerance;
mod importing;
mod inventory_state;
mod key_check;
mod portal_reconciling;
mod reconciling;
mod renewal_policies;
mod replacing;
mod supplied_csr;
mod support;
mod validating;
