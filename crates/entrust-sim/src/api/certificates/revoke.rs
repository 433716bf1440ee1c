//! `POST /certificates/{trackingId}/revocations`, `POST /certificates/{trackingId}/deactivations`
//! and `PUT /certificates/{trackingId}/tracking`. Each returns 200 `{}` on success, because ECS
//! documents no body and clients that parse one then get an empty object.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::api::gate::Caller;
use crate::api::path_integer;
use crate::error::ApiError;
use crate::json_fields::parse_object;
use crate::model::Permission;
use crate::ordering::{deactivate_order, read_revocation, read_tracking_body, revoke_order};
use crate::simulator::Simulator;

/// Revokes the certificate with `crlReason` and `revocationComment`.
pub async fn revoke(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    caller.require(Permission::Revoke)?;
    let body = parse_object(&body)?;
    sim.with_state(|state, context| {
        let (reason, comment) = read_revocation(&body, state.account.legacy_crl_reasons)?;
        revoke_order(state, context, tracking_id, reason, comment)
    })?;
    tracing::info!(tracking.id = tracking_id, user.name = %caller.user_name, "Simulated certificate revoked");
    Ok(Json(json!({})))
}

/// Deactivates an ACTIVE certificate. The request body, if any, is ignored.
pub async fn deactivate(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    tracking_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    caller.require(Permission::Deactivate)?;
    sim.with_state(|state, context| deactivate_order(state, context, tracking_id))?;
    tracing::info!(tracking.id = tracking_id, user.name = %caller.user_name, "Simulated certificate deactivated");
    Ok(Json(json!({})))
}

/// Replaces the order's tracking data with the body; `{}` erases it.
pub async fn update_tracking(
    State(sim): State<Arc<Simulator>>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    let tracking = read_tracking_body(&parse_object(&body)?)?;
    sim.state().order_mut(tracking_id)?.tracking = tracking;
    tracing::info!(
        tracking.id = tracking_id,
        "Simulated certificate tracking data replaced"
    );
    Ok(Json(json!({})))
}
