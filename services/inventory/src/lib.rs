//! The inventory service: generates key pairs and CSRs for orders, keeps private keys sealed, and
//! stores every certificate that enters Certitude with its chain and parsed facts.

pub mod certificate;
pub mod keys;
