//! Orders Certitude places: request checks, creation, submission to Entrust, the acceptance of
//! issued certificates, and the state changes with their events.

pub(crate) mod certificate;
pub(crate) mod create;
pub(crate) mod submit;
pub(crate) mod transition;
pub(crate) mod validate;
