//! `/certificates`: listing, reading and ordering certificates. Reissue, renewal, revocation,
//! deactivation and PATCH handlers belong beside these, one file per operation.

mod create;
mod detail;
mod list;
mod view;

pub use create::create;
pub use detail::detail;
pub use list::list;
