//! `/certificates`: listing, reading and ordering certificates, and every operation on an
//! existing one, one file per operation.

mod create;
mod detail;
mod list;
mod patch;
mod revoke;
mod successors;
mod view;

pub use create::create;
pub use detail::{by_thumbprint, detail};
pub use list::list;
pub use patch::patch;
pub use revoke::{deactivate, revoke, update_tracking};
pub use successors::{reissue, renew};
