//! The gate every `/enterprise/v2` request passes: injected faults, HTTP Basic authentication
//! (plus the bound client certificate for users that have one), the per-user rate limit, the
//! handler, and an entry in the request log with the final status.
//!
//! Injected faults respond before authentication, as a proxy in front of ECS would. Missing or
//! wrong credentials, and a missing or wrong bound client certificate, get a 401
//! ErrorResponse. The log keeps the user name only, never the Authorization header or the key.
//! A request whose client closes the connection before the response is sent (while an injected
//! latency delays it, for example) is logged with status 0 when the server drops it.

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::faults::{CommitFailure, FaultKind};
use crate::model::{Permission, Role};
use crate::request_log::LoggedRequest;
use crate::server::{ConnectionInfo, DropConnection};
use crate::simulator::Simulator;

/// `X-Rate-Limit-Limit` of an injected 429 when no rate limit is configured.
const INJECTED_RATE_LIMIT: u32 = 100;

/// The authenticated API user of a request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user name.
    pub user_name: String,
    /// The user's role.
    pub role: Role,
    /// The administrator actions the user may take.
    pub permissions: Vec<Permission>,
}

impl Caller {
    /// Returns a 403 unless the user has `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.permissions.contains(&permission) {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "API user {} is not allowed to {} certificates; use an API user with the \
             administrator role.",
            self.user_name,
            permission.verb()
        )))
    }
}

/// Applies faults, authenticates and rate-limits the request, runs it, and logs it.
pub async fn gate(State(sim): State<Arc<Simulator>>, mut request: Request, next: Next) -> Response {
    let received_at = sim.now();
    let method = request.method().to_string();
    // Inside the nested router the URI lacks the `/enterprise/v2` prefix; log the full one.
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map(|original| original.0.clone())
        .unwrap_or_else(|| request.uri().clone());
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let credentials = basic_credentials(request.headers());
    let user_name = credentials.as_ref().map(|(user, _)| user.clone());
    let mut entry = LogOnDrop {
        sim: Arc::clone(&sim),
        entry: Some(LoggedRequest {
            time: received_at,
            method: method.clone(),
            path: path.clone(),
            query,
            status: 0,
            user_name,
            fault: None,
        }),
    };
    let connection = request
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .unwrap_or_default();

    let faults = sim.faults.take_for_request(&method, &path);
    let mut fault = None;
    let mut response = match faults.replacement {
        Some(kind) => {
            fault = Some(fault_name(&kind));
            injected_response(&sim, &kind)
        }
        None => match admit(&sim, credentials, &connection, received_at) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
            Err(error) => error.into_response(),
        },
    };

    if method == "POST"
        && path == "/enterprise/v2/certificates"
        && matches!(
            response.status(),
            StatusCode::CREATED | StatusCode::ACCEPTED
        )
        && let Some(outcome) = sim.faults.take_commit_failure(&method, &path)
    {
        fault = Some("commitThenFail");
        tracing::info!(outcome = ?outcome, "Simulated order committed before an injected failure");
        response = match outcome {
            CommitFailure::ServerError => server_error(StatusCode::INTERNAL_SERVER_ERROR),
            CommitFailure::DropConnection => dropped(),
        };
    }
    if !faults.delay.is_zero() {
        fault.get_or_insert("latency");
        entry.set_fault(fault);
        tokio::time::sleep(faults.delay).await;
    }

    let status = if response.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    tracing::debug!(http.method = %method, url.path = %path, http.status_code = status, "Simulated API request served");
    entry.set_fault(fault);
    entry.record(status);
    response
}

/// The log entry of a request in progress. It is recorded with its final status by
/// [`LogOnDrop::record`], or with status 0 when the server drops the request first because the
/// client closed the connection.
struct LogOnDrop {
    sim: Arc<Simulator>,
    entry: Option<LoggedRequest>,
}

impl LogOnDrop {
    fn set_fault(&mut self, fault: Option<&str>) {
        if let Some(entry) = &mut self.entry {
            entry.fault = fault.map(str::to_owned);
        }
    }

    fn record(mut self, status: u16) {
        if let Some(mut entry) = self.entry.take() {
            entry.status = status;
            self.sim.log.record(entry);
        }
    }
}

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.sim.log.record(entry);
        }
    }
}

/// Authenticates the caller, checks its bound client certificate, and counts it against the
/// rate limit.
fn admit(
    sim: &Simulator,
    credentials: Option<(String, SecretString)>,
    connection: &ConnectionInfo,
    now: OffsetDateTime,
) -> Result<Caller, ApiError> {
    let caller = authenticate(sim, credentials)?;
    if let Some(bound) = sim.bindings.bound(&caller.user_name) {
        check_client_certificate(&caller.user_name, bound, connection)?;
    }
    sim.limiter
        .check(&caller.user_name, now)
        .map_err(|limited| ApiError::RateLimited {
            retry_after_seconds: limited.retry_after_seconds,
            limit: limited.limit,
        })?;
    Ok(caller)
}

fn authenticate(
    sim: &Simulator,
    credentials: Option<(String, SecretString)>,
) -> Result<Caller, ApiError> {
    let Some((user_name, key)) = credentials else {
        return Err(ApiError::Unauthorized(
            "Authentication required: send HTTP Basic credentials with the API user name and \
             API key."
                .to_owned(),
        ));
    };
    let state = sim.state();
    let user = state.users.iter().find(|user| user.user_name == user_name);
    let matches = user.is_some_and(|user| {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            user.api_key.expose_secret().as_bytes(),
            key.expose_secret().as_bytes(),
        )
        .is_ok()
    });
    match user {
        Some(user) if matches => Ok(Caller {
            user_name: user.user_name.clone(),
            role: user.role,
            permissions: user.effective_permissions(),
        }),
        _ => Err(ApiError::Unauthorized(
            "Authentication failed: the API user name or API key is wrong.".to_owned(),
        )),
    }
}

/// Requires the connection to carry exactly the certificate bound to `user`.
fn check_client_certificate(
    user: &str,
    bound: &[u8],
    connection: &ConnectionInfo,
) -> Result<(), ApiError> {
    match &connection.client_certificate {
        Some(presented) if presented.as_slice() == bound => Ok(()),
        Some(_) => Err(ApiError::Unauthorized(format!(
            "The client certificate presented is not the one bound to API user {user}."
        ))),
        None if connection.tls => Err(ApiError::Unauthorized(format!(
            "API user {user} must present the client certificate bound to it in the TLS \
             handshake."
        ))),
        None => Err(ApiError::Unauthorized(format!(
            "API user {user} must present its client certificate, which needs HTTPS; this \
             request came over plain HTTP."
        ))),
    }
}

fn fault_name(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Latency { .. } => "latency",
        FaultKind::RateLimit { .. } => "rateLimit",
        FaultKind::ServerError { .. } => "serverError",
        FaultKind::DropConnection => "dropConnection",
        FaultKind::CommitThenFail { .. } => "commitThenFail",
    }
}

/// Builds the response an injected fault returns in place of the API's.
fn injected_response(sim: &Simulator, kind: &FaultKind) -> Response {
    match kind {
        FaultKind::RateLimit {
            retry_after_seconds,
        } => ApiError::RateLimited {
            retry_after_seconds: *retry_after_seconds,
            limit: sim.limiter.quota().unwrap_or(INJECTED_RATE_LIMIT),
        }
        .into_response(),
        FaultKind::ServerError { status } => {
            server_error(StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
        }
        FaultKind::DropConnection => dropped(),
        FaultKind::Latency { .. } | FaultKind::CommitThenFail { .. } => {
            server_error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn server_error(status: StatusCode) -> Response {
    ApiError::Injected {
        status,
        message: format!(
            "{} {}: the service failed to handle the request; retry later.",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Server Error")
        ),
    }
    .into_response()
}

/// Builds a response that is never sent, because the connection closes instead.
fn dropped() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

/// Reads `Authorization: Basic base64(user:key)`. Anything else counts as no credentials.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, key) = text.split_once(':')?;
    Some((user.to_owned(), SecretString::from(key)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn basic_header_is_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("demo-admin:key:with:colons");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );

        let (user, key) = basic_credentials(&headers).unwrap();

        assert_eq!(user, "demo-admin");
        assert_eq!(key.expose_secret(), "key:with:colons");
    }

    #[test]
    fn bearer_header_is_no_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );

        assert!(basic_credentials(&headers).is_none());
    }

    #[test]
    fn requester_lacks_administrator_permissions() {
        let caller = Caller {
            user_name: "demo-requester".to_owned(),
            role: Role::Requester,
            permissions: Role::Requester.default_permissions().to_vec(),
        };

        let error = caller.require(Permission::Revoke).unwrap_err();

        assert_eq!(error.status(), StatusCode::FORBIDDEN);
        assert!(error.to_string().contains("revoke"), "{error}");
    }
}
