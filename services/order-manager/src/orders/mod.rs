//! Orders Certitude places: request checks, creation, submission to Entrust (new orders,
//! renewals and reissues), validate-only requests, the acceptance of issued certificates, and
//! the state changes with their events.

pub(crate) mod catalog_check;
pub(crate) mod certificate;
pub(crate) mod create;
pub(crate) mod submit;
pub(crate) mod supersede;
pub(crate) mod supplied_csr;
pub(crate) mod transition;
pub(crate) mod validate;
pub(crate) mod validate_only;
pub(crate) mod validity;
