//! The middleware that writes one audit row per change, after the handler ran.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, header::LOCATION};
use axum::middleware::Next;
use axum::response::Response;

use super::chain::{self, AuditEvent};
use super::request_id::RequestId;
use crate::AppState;
use crate::auth::Principal;

/// Middleware, layered inside authentication, that records every request other than GET, HEAD
/// and OPTIONS once its response is known. A failed write is logged with the request id, and
/// the response is returned unchanged, because the change has happened by then.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_read_only(request.method()) {
        return next.run(request).await;
    }

    let (mut parts, body) = request.into_parts();
    let path_target = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .and_then(|params| join_params(params.iter()));
    let route = parts.extensions.get::<MatchedPath>().map_or_else(
        || parts.uri.path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let actor = parts.extensions.get::<Principal>().cloned();
    let method = parts.method.to_string();

    let response = next.run(Request::from_parts(parts, body)).await;

    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(|location| format!("location={location}"));
    let target = match (path_target, location) {
        (Some(params), Some(location)) => Some(format!("{params}&{location}")),
        (params, location) => params.or(location),
    };
    let event = AuditEvent {
        occurred_at: state.clock.now(),
        request_id,
        actor,
        method,
        route,
        target,
        status: response.status().as_u16(),
    };
    let request_id = event.request_id.clone();
    if let Err(error) = chain::append(&state.pool, event).await {
        tracing::error!(error = %error, http.request.id = %request_id,
            "failed to write the audit row of a change");
    }
    response
}

fn is_read_only(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Joins path parameters as `name=value&name=value`, in route order; `None` without any.
fn join_params<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let joined: Vec<String> = params
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    (!joined.is_empty()).then(|| joined.join("&"))
}
