//! The state that request handlers and background tasks share.

use certitude_platform::clock::SharedClock;
use certitude_platform::outbox::Outbox;
use certitude_platform::seal::Keyring;
use sqlx::PgPool;

use crate::entrust_api::EntrustAccess;

/// The service's dependencies, cheap to clone.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Pool working in the service's schema.
    pub pool: PgPool,
    /// Master keys that seal and open the credentials' secrets.
    pub keyring: Keyring,
    /// Writer of this service's events, inside the caller's transaction.
    pub outbox: Outbox,
    /// The only source of time for stored timestamps.
    pub clock: SharedClock,
    pub entrust: EntrustAccess,
}
