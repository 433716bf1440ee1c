//! Control routes that act on orders as an Entrust administrator would in the portal.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_body;
use crate::api::path_integer;
use crate::error::ApiError;
use crate::ordering::{CertificateResponse, approve_order};
use crate::portal;
use crate::simulator::Simulator;

/// Body of `POST /_sim/certificates/{trackingId}/decline`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeclineRequest {
    decline_reason: Option<String>,
}

/// Body of `POST /_sim/certificates/{trackingId}/revoke`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeRequest {
    crl_reason: Option<Value>,
    revocation_comment: Option<String>,
}

/// Approves a PENDING order: 200 with the CertificateResponse.
pub async fn approve(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<CertificateResponse>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let certificate =
        sim.with_state(|state, context| approve_order(state, context, tracking_id))?;
    tracing::info!(
        tracking.id = tracking_id,
        "Simulated order approved through the control API"
    );
    Ok(Json(certificate))
}

/// Declines a PENDING order with an optional `declineReason`: 200 `{}`.
pub async fn decline(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let request: DeclineRequest = parse_body(&body)?;
    sim.with_state(|state, context| {
        portal::decline(state, context, tracking_id, request.decline_reason)
    })?;
    tracing::info!(
        tracking.id = tracking_id,
        "Simulated order declined through the control API"
    );
    Ok(Json(json!({})))
}

/// Suspends a READY or ACTIVE order: 200 `{}`.
pub async fn suspend(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    sim.with_state(|state, context| portal::suspend(state, context, tracking_id))?;
    tracing::info!(
        tracking.id = tracking_id,
        "Simulated order suspended through the control API"
    );
    Ok(Json(json!({})))
}

/// Revokes a certificate with any CRL reason (default `unspecified`): 200 `{}`.
pub async fn revoke(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let request: RevokeRequest = parse_body(&body)?;
    sim.with_state(|state, context| {
        portal::revoke(
            state,
            context,
            tracking_id,
            request.crl_reason.as_ref(),
            request.revocation_comment,
        )
    })?;
    tracing::info!(
        tracking.id = tracking_id,
        "Simulated certificate revoked through the control API"
    );
    Ok(Json(json!({})))
}

/// Returns `{"revocation": {revokedAt, reason, comment} | null}`.
pub async fn revocation(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let state = sim.state();
    let order = state.order(tracking_id)?;
    Ok(Json(json!({ "revocation": order.revocation })))
}
