//! Client of the Entrust Certificate Services (ECS) Enterprise REST API v2, and the CA-neutral
//! types and trait Certitude's services use.
//!
//! This crate is the only code in Certitude that speaks the ECS wire format. Services program
//! against [`CertificateAuthority`] and the types in [`model`]; [`EntrustClient`] implements it.
//!
//! - Endpoints: new orders (validation only and approval queueing included), lists with
//!   filters, and single orders by tracking id or thumbprint. Changes: approve, decline,
//!   suspend, unsuspend, reissue, renew, revoke, deactivate and tracking updates. Account:
//!   clients and their organizations, domains (list, read, add, re-verify), organizations,
//!   inventory and the API version.
//! - Transport: HTTPS with rustls, HTTP Basic credentials (API user name and API key) on every
//!   call, an optional TLS client certificate, connect and per-attempt timeouts, no redirects.
//! - Retries: reading calls and the tracking update are retried on 429, 500, 502, 503, 504,
//!   connection failures and timeouts, with exponential backoff and jitter, honouring an
//!   integer `Retry-After`. Calls that create or change an order or a domain are sent once; an
//!   ambiguous failure becomes [`Error::OutcomeUnknown`].
//! - Rate budget: with [`EntrustConfig::rate_budget`], every attempt first takes a slot from a
//!   [`RateBudget`] shared by every client of the credential, in memory or, with the cargo
//!   feature `postgres`, in a Postgres table shared by every replica (see [`rate`]).
//! - Writing is strict: `certExpiryDate` is a date, booleans are JSON booleans, absent values
//!   and read-only fields are never sent, a reissue carries no expiry and a renewal no
//!   `validateOnly`.
//! - Reading is tolerant: statuses compare case-insensitively and unknown values are kept,
//!   every field is optional, serial numbers are normalized, chains are ordered leaf first.
//! - Paging: [`EntrustClient::order_stream`] and [`EntrustClient::domain_stream`] walk their
//!   lists by item offsets and always end (see the `paging` module).
//! - Tracing: one `entrust.request` span per call with `entrust.endpoint`,
//!   `http.response.status_code`, `entrust.attempts`, `entrust.latency_ms` and, with a rate
//!   budget, `entrust.rate_wait_ms`; no field contains a credential.

mod api;
mod authority;
mod chain;
mod client;
mod config;
mod error;
pub mod model;
mod paging;
pub mod rate;
mod transport;
mod wire;

pub use authority::CertificateAuthority;
pub use client::EntrustClient;
pub use config::{ClientIdentity, DEFAULT_BASE_URL, EntrustConfig};
pub use error::{ApiMessage, ApiMessages, Error};
#[cfg(feature = "postgres")]
pub use rate::PostgresRateBudget;
pub use rate::{InMemoryRateBudget, RateBudget, RateBudgetError, RateQuota};
pub use secrecy::SecretString;
