//! ECS wire format: the JSON shapes of the Enterprise API v2 and their conversion into domain
//! types. Private to this crate, so no other code depends on Entrust's field names.

pub(crate) mod account;
pub(crate) mod certificates;
pub(crate) mod convert;
mod errors;
mod lenient;

pub(crate) use errors::parse_error_body;
