//! The log of API requests the control API exposes (`GET /_sim/requests`).
//!
//! Each entry contains the time, method, path, query string, response status, the Basic-auth
//! user name and the injected fault, if any. It never contains the Authorization header, the
//! API key, a client certificate or a request body, so tests may print it freely.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Entries kept; older ones are dropped first so that a long-running simulator stays bounded.
const CAPACITY: usize = 10_000;

/// One API request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    /// When the request arrived, by the simulator's clock.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// HTTP method.
    pub method: String,
    /// Request path, for example `/enterprise/v2/certificates`.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// HTTP status of the response; 0 when the connection was dropped without one.
    pub status: u16,
    /// The Basic-auth user name sent, authenticated or not.
    pub user_name: Option<String>,
    /// The injected fault that shaped the response: `latency`, `rateLimit`, `serverError`,
    /// `dropConnection` or `commitThenFail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A bounded, shared request log.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    /// Appends an entry, dropping the oldest beyond the capacity.
    pub fn record(&self, entry: LoggedRequest) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Returns every entry, oldest first.
    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.iter().cloned().collect()
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
