//! ECS wire format: the JSON shapes of the Enterprise API v2 and their conversion into domain
//! types. Private to this crate, so no other code depends on Entrust's field names.

pub(crate) mod account;
pub(crate) mod certificates;
pub(crate) mod clients;
pub(crate) mod convert;
pub(crate) mod convert_account;
pub(crate) mod domains;
mod errors;
mod lenient;
pub(crate) mod lifecycle;

pub(crate) use errors::parse_error_body;
