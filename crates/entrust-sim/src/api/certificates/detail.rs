//! `GET /certificates/{trackingId}`: one order as CertificateEx.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::Value;

use super::view;
use crate::api::path_integer;
use crate::error::ApiError;
use crate::simulator::Simulator;

/// Returns the order; 400 for a non-integer id, 404 for an unknown one.
pub async fn detail(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let now = sim.now();
    let state = sim.state();
    let order = state.order(tracking_id)?;
    Ok(Json(view::detail(order, now)))
}
