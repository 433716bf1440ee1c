//! `GET /certificates/{trackingId}` and `GET /certificates/thumbprints/{thumbprint}`: one
//! record as CertificateEx.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::Value;

use super::view;
use crate::api::path_integer;
use crate::error::ApiError;
use crate::ordering::materialize;
use crate::simulator::Simulator;

/// Returns the order; 400 for a non-integer id, 404 for an unknown one. A scenario order's key
/// and certificate are made on this first read.
pub async fn detail(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    sim.with_state(|state, context| {
        let include_root = state.account.include_root_in_chain;
        let order = state.order_mut(tracking_id)?;
        materialize(order, context, include_root)?;
        Ok(Json(view::detail(order, context.now)))
    })
}

/// Returns the record whose certificate has SHA-1 thumbprint `thumbprint` (40 hex digits, any
/// case): a third-party certificate (trackingId 0, status UNKNOWN) or an ordered one.
pub async fn by_thumbprint(
    State(sim): State<Arc<Simulator>>,
    thumbprint: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let raw = thumbprint
        .map(|Path(text)| text)
        .map_err(|_| ApiError::invalid("thumbprint", "thumbprint must be 40 hex digits."))?;
    let thumbprint = raw.trim().to_ascii_uppercase();
    if thumbprint.len() != 40 || !thumbprint.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "thumbprint",
            format!("thumbprint {raw:?} must be the 40 hex digits of a SHA-1 thumbprint."),
        ));
    }
    let now = sim.now();
    let state = sim.state();
    let order = state.find_by_thumbprint(&thumbprint).ok_or_else(|| {
        ApiError::NotFound(format!(
            "Certificate with thumbprint {thumbprint} was not found."
        ))
    })?;
    Ok(Json(view::detail(order, now)))
}
