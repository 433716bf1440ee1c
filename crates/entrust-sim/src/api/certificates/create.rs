//! `POST /certificates`: order a new certificate.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use crate::api::gate::Caller;
use crate::error::ApiError;
use crate::json_fields::parse_object;
use crate::ordering::{PlaceOutcome, place_new_order};
use crate::simulator::Simulator;

/// Returns 200 `{}` for a valid `validateOnly` request, 201 with a CertificateResponse when the
/// certificate was issued, and 202 `{"trackingId": n}` when the order waits for approval.
pub async fn create(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let object = parse_object(&body)?;
    let outcome = sim
        .with_state(|state, context| place_new_order(state, context, &caller.user_name, &object))?;
    let response = match outcome {
        PlaceOutcome::Validated => (StatusCode::OK, Json(json!({}))).into_response(),
        PlaceOutcome::Issued(certificate) => {
            tracing::info!(tracking.id = certificate.tracking_id, user.name = %caller.user_name, user.role = ?caller.role, "Simulated certificate issued");
            (StatusCode::CREATED, Json(certificate)).into_response()
        }
        PlaceOutcome::Queued { tracking_id } => {
            tracing::info!(tracking.id = tracking_id, user.name = %caller.user_name, user.role = ?caller.role, "Simulated order queued for approval");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "trackingId": tracking_id })),
            )
                .into_response()
        }
    };
    Ok(response)
}
