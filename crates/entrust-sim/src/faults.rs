//! Fault injection: failures a test arms through the control API so that clients meet slow
//! responses, rate limits, server errors, dropped connections and orders that were committed
//! although the client saw a failure.
//!
//! A fault applies to the next `count` API requests that match its optional method and path
//! prefix (every matching request when `count` is absent) and is then disarmed. Latency adds
//! up over all matching faults and is added after the request was handled, so a client that
//! times out may still have changed the state. Of the other kinds the first armed match
//! responds in place of the API. Commit-then-fail lets the next successful `POST /certificates`
//! create its order (and consume inventory) and then responds 500 or drops the connection.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Base path of the API; path prefixes without it are taken as relative to it.
const API_BASE: &str = "/enterprise/v2";

/// The effect of a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum FaultKind {
    /// Delays the response by `delay_ms` milliseconds.
    Latency {
        /// Delay in milliseconds.
        delay_ms: u64,
    },
    /// Responds 429 with `Retry-After: retry_after_seconds` and `X-Rate-Limit-Limit`.
    RateLimit {
        /// The integer `Retry-After` value.
        retry_after_seconds: u64,
    },
    /// Responds with `status` (500 to 599) and an ErrorResponse body.
    ServerError {
        /// The HTTP status.
        status: u16,
    },
    /// Closes the connection without a response.
    DropConnection,
    /// Lets the next successful `POST /certificates` commit, then fails it with `outcome`.
    CommitThenFail {
        /// The response the client gets in place of the 201 or 202.
        outcome: CommitFailure,
    },
}

/// The failure a client sees after a committed `POST /certificates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommitFailure {
    /// A 500 ErrorResponse.
    ServerError,
    /// The connection closes without a response.
    DropConnection,
}

/// A fault to arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// The effect.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Matching requests it applies to before it disarms; `None` for every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Only requests with this method (any case) match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only requests whose path starts with this match, such as `/certificates`; the
    /// `/enterprise/v2` prefix is optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
}

impl Fault {
    /// Checks the fault's values, returning a message that names the bad one.
    pub fn check(&self) -> Result<(), String> {
        if let FaultKind::ServerError { status } = self.kind
            && !(500..=599).contains(&status)
        {
            return Err(format!("status {status} must be from 500 to 599"));
        }
        if self.count == Some(0) {
            return Err("count must be at least 1; leave it out for every request".to_owned());
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_matches = self
            .method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method));
        let path_matches = self.path_prefix.as_deref().is_none_or(|prefix| {
            if prefix.starts_with(API_BASE) {
                path.starts_with(prefix)
            } else {
                path.strip_prefix(API_BASE)
                    .is_some_and(|rest| rest.starts_with(prefix))
            }
        });
        method_matches && path_matches
    }
}

/// An armed fault and the id the control API reports for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmedFault {
    /// Id for `DELETE /_sim/faults/{id}`.
    pub id: u64,
    /// The fault, with `count` showing the requests it still applies to.
    #[serde(flatten)]
    pub fault: Fault,
}

/// The actions that the faults armed for one request ask of the gate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFaults {
    /// Total delay to add to the response.
    pub delay: Duration,
    /// A response to give in place of the API's.
    pub replacement: Option<FaultKind>,
}

/// The armed faults.
#[derive(Debug, Default)]
pub struct FaultPlan {
    inner: Mutex<PlanInner>,
}

#[derive(Debug, Default)]
struct PlanInner {
    next_id: u64,
    armed: Vec<ArmedFault>,
}

impl FaultPlan {
    /// Arms `fault` and returns its id.
    pub fn arm(&self, fault: Fault) -> u64 {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.armed.push(ArmedFault { id, fault });
        id
    }

    /// Returns the armed faults, oldest first.
    pub fn armed(&self) -> Vec<ArmedFault> {
        self.lock().armed.clone()
    }

    /// Disarms the fault `id`; reports whether it was armed.
    pub fn disarm(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.armed.len();
        inner.armed.retain(|armed| armed.id != id);
        inner.armed.len() != before
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        self.lock().armed.clear();
    }

    /// Takes the faults for a request that is about to be handled: all matching latency and
    /// the first matching rate limit, server error or dropped connection. Commit-then-fail
    /// faults are left for [`FaultPlan::take_commit_failure`].
    pub fn take_for_request(&self, method: &str, path: &str) -> RequestFaults {
        let mut inner = self.lock();
        let mut faults = RequestFaults::default();
        for armed in &mut inner.armed {
            if !armed.fault.matches(method, path) {
                continue;
            }
            match &armed.fault.kind {
                FaultKind::Latency { delay_ms } => {
                    faults.delay += Duration::from_millis(*delay_ms);
                }
                FaultKind::CommitThenFail { .. } => continue,
                kind if faults.replacement.is_none() => faults.replacement = Some(kind.clone()),
                _ => continue,
            }
            consume(armed);
        }
        inner.armed.retain(|armed| armed.fault.count != Some(0));
        faults
    }

    /// Takes the first commit-then-fail fault that matches a successful
    /// `POST /certificates`.
    pub fn take_commit_failure(&self, method: &str, path: &str) -> Option<CommitFailure> {
        let mut inner = self.lock();
        let armed = inner.armed.iter_mut().find(|armed| {
            matches!(armed.fault.kind, FaultKind::CommitThenFail { .. })
                && armed.fault.matches(method, path)
        })?;
        let FaultKind::CommitThenFail { outcome } = armed.fault.kind else {
            return None;
        };
        consume(armed);
        inner.armed.retain(|armed| armed.fault.count != Some(0));
        Some(outcome)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PlanInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts one use of a fault; a count that reaches 0 disarms it.
fn consume(armed: &mut ArmedFault) {
    if let Some(count) = &mut armed.fault.count {
        *count = count.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind, count: Option<u32>) -> Fault {
        Fault {
            kind,
            count,
            method: None,
            path_prefix: None,
        }
    }

    #[test]
    fn counted_fault_disarms_after_its_requests() {
        let plan = FaultPlan::default();
        plan.arm(fault(FaultKind::ServerError { status: 503 }, Some(2)));

        let path = "/enterprise/v2/certificates";
        let first = plan.take_for_request("GET", path).replacement;
        let second = plan.take_for_request("GET", path).replacement;
        let third = plan.take_for_request("GET", path).replacement;

        assert_eq!(first, Some(FaultKind::ServerError { status: 503 }));
        assert_eq!(second, Some(FaultKind::ServerError { status: 503 }));
        assert_eq!(third, None);
        assert!(plan.armed().is_empty());
    }

    #[test]
    fn latency_adds_up_beside_a_replacement() {
        let plan = FaultPlan::default();
        plan.arm(fault(FaultKind::Latency { delay_ms: 100 }, None));
        plan.arm(fault(FaultKind::Latency { delay_ms: 50 }, Some(1)));
        plan.arm(fault(FaultKind::DropConnection, Some(1)));

        let faults = plan.take_for_request("GET", "/enterprise/v2/clients");

        assert_eq!(faults.delay, Duration::from_millis(150));
        assert_eq!(faults.replacement, Some(FaultKind::DropConnection));
        assert_eq!(plan.armed().len(), 1, "the uncounted latency stays armed");
    }

    #[test]
    fn method_and_path_filters_apply() {
        let plan = FaultPlan::default();
        plan.arm(Fault {
            kind: FaultKind::RateLimit {
                retry_after_seconds: 2,
            },
            count: Some(1),
            method: Some("post".to_owned()),
            path_prefix: Some("/certificates".to_owned()),
        });

        let other_method = plan.take_for_request("GET", "/enterprise/v2/certificates");
        let other_path = plan.take_for_request("POST", "/enterprise/v2/clients");
        let matching = plan.take_for_request("POST", "/enterprise/v2/certificates/5/renewals");

        assert_eq!(other_method.replacement, None);
        assert_eq!(other_path.replacement, None);
        assert!(matching.replacement.is_some());
    }

    #[test]
    fn commit_failure_is_left_for_the_commit_step() {
        let plan = FaultPlan::default();
        let kind = FaultKind::CommitThenFail {
            outcome: CommitFailure::ServerError,
        };
        plan.arm(fault(kind, Some(1)));
        let path = "/enterprise/v2/certificates";

        assert_eq!(
            plan.take_for_request("POST", path),
            RequestFaults::default()
        );
        assert_eq!(
            plan.take_commit_failure("POST", path),
            Some(CommitFailure::ServerError)
        );
        assert_eq!(plan.take_commit_failure("POST", path), None);
    }

    #[test]
    fn fault_json_uses_kind_tags() {
        let json = serde_json::json!({"kind": "serverError", "status": 502, "count": 1});

        let fault: Fault = serde_json::from_value(json).unwrap();

        assert_eq!(fault.kind, FaultKind::ServerError { status: 502 });
        assert_eq!(fault.count, Some(1));
        assert!(
            Fault {
                kind: FaultKind::ServerError { status: 404 },
                ..fault
            }
            .check()
            .is_err()
        );
    }
}
