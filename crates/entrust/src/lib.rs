//! Client of the Entrust Certificate Services (ECS) Enterprise REST API v2, and the CA-neutral
//! types and trait Certitude's services use.
//!
//! This crate is the only code in Certitude that speaks the ECS wire format. Services program
//! against [`CertificateAuthority`] and the types in [`model`]; [`EntrustClient`] implements it.
//!
//! - Transport: HTTPS with rustls, HTTP Basic credentials (API user name and API key) on every
//!   call, an optional TLS client certificate, connect and per-attempt timeouts, no redirects.
//! - Retries: reading calls are retried on 429, 500, 502, 503, 504, connection failures and
//!   timeouts, with exponential backoff and jitter, honouring an integer `Retry-After`. Placing
//!   an order is sent once; an ambiguous failure becomes [`Error::OutcomeUnknown`].
//! - Reading is tolerant: statuses compare case-insensitively and unknown values are kept,
//!   every field is optional, serial numbers are normalized, chains are ordered leaf first.
//! - Paging: [`EntrustClient::order_stream`] walks `GET /certificates` by item offsets and
//!   always ends (see the `paging` module).
//! - Tracing: one `entrust.request` span per call with `entrust.endpoint`,
//!   `http.response.status_code`, `entrust.attempts` and `entrust.latency_ms`; no field contains
//!   a credential.

mod api;
mod authority;
mod chain;
mod client;
mod config;
mod error;
pub mod model;
mod paging;
mod transport;
mod wire;

pub use authority::CertificateAuthority;
pub use client::EntrustClient;
pub use config::{ClientIdentity, DEFAULT_BASE_URL, EntrustConfig};
pub use error::{ApiMessage, ApiMessages, Error};
pub use secrecy::SecretString;
