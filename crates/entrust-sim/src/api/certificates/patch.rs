//! `PATCH /certificates/{trackingId}`: APPROVE, DECLINE, SUSPEND or UNSUSPEND an order.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use crate::api::gate::Caller;
use crate::api::path_integer;
use crate::error::ApiError;
use crate::json_fields::parse_object;
use crate::ordering::{PatchOperation, patch_order};
use crate::simulator::Simulator;

/// Returns 201 with a CertificateResponse for APPROVE and 200 `{}` for the other operations;
/// 403 when the API user lacks the operation's permission.
pub async fn patch(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let operation = PatchOperation::read(&parse_object(&body)?)?;
    caller.require(operation.permission())?;
    let description = format!("{operation:?}");
    let approved = sim.with_state(|state, context| {
        patch_order(state, context, tracking_id, &caller.user_name, operation)
    })?;
    tracing::info!(tracking.id = tracking_id, user.name = %caller.user_name, operation = %description, "Simulated certificate updated");
    Ok(match approved {
        Some(certificate) => (StatusCode::CREATED, Json(certificate)).into_response(),
        None => (StatusCode::OK, Json(json!({}))).into_response(),
    })
}
