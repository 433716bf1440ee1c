//! Control routes that arm, list and disarm injected faults (see [`crate::faults`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::parse_body;
use crate::error::ApiError;
use crate::faults::{ArmedFault, Fault};
use crate::simulator::Simulator;

/// Arms a fault: 201 with the armed fault and its id.
pub async fn arm(
    State(sim): State<Arc<Simulator>>,
    body: Bytes,
) -> Result<(StatusCode, Json<ArmedFault>), ApiError> {
    let fault: Fault = parse_body(&body)?;
    fault.check().map_err(ApiError::invalid_request)?;
    let id = sim.faults.arm(fault.clone());
    tracing::info!(fault.id = id, fault.kind = ?fault.kind, "Simulator fault armed");
    Ok((StatusCode::CREATED, Json(ArmedFault { id, fault })))
}

/// Lists the armed faults with their remaining counts.
pub async fn list(State(sim): State<Arc<Simulator>>) -> Json<Vec<ArmedFault>> {
    Json(sim.faults.armed())
}

/// Disarms every fault.
pub async fn clear(State(sim): State<Arc<Simulator>>) -> StatusCode {
    sim.faults.clear();
    StatusCode::NO_CONTENT
}

/// Disarms one fault; 404 when it is not armed.
pub async fn disarm(
    State(sim): State<Arc<Simulator>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::invalid("id", "id must be a fault id."))?;
    if sim.faults.disarm(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("Fault {id} is not armed.")))
    }
}
