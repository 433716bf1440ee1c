//! The control API under `/_sim`, for tests only: no authentication, not part of ECS.
//!
//! - `POST /_sim/certificates/{trackingId}/approve`: approve a PENDING order as an
//!   administrator would in the portal (200 with the CertificateResponse).
//! - `GET /_sim/requests`: the request log as a JSON array; `DELETE /_sim/requests` clears it.
//! - `GET /_sim/ca`: `{"root": PEM, "intermediate": PEM}`.
//! - `GET /_sim/clock`: `{"now": RFC 3339}`, the time the simulator reads.
//!
//! Clock control, fault injection and rate limiting belong here as further routes.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::api::{method_not_allowed, not_found, path_integer};
use crate::error::ApiError;
use crate::format::timestamp;
use crate::ordering::CertificateResponse;
use crate::request_log::LoggedRequest;
use crate::simulator::Simulator;

/// Builds the `/_sim` router.
pub(crate) fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/certificates/{trackingId}/approve", post(approve))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/ca", get(ca))
        .route("/clock", get(clock))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

async fn approve(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<CertificateResponse>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let certificate = sim.approve(tracking_id)?;
    tracing::info!(
        tracking.id = tracking_id,
        "Simulated order approved through the control API"
    );
    Ok(Json(certificate))
}

async fn requests(State(sim): State<Arc<Simulator>>) -> Json<Vec<LoggedRequest>> {
    Json(sim.log.snapshot())
}

async fn clear_requests(State(sim): State<Arc<Simulator>>) -> StatusCode {
    sim.log.clear();
    StatusCode::NO_CONTENT
}

async fn ca(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({
        "root": sim.ca.root_pem(),
        "intermediate": sim.ca.intermediate_pem(),
    }))
}

async fn clock(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({ "now": timestamp(sim.now()) }))
}
