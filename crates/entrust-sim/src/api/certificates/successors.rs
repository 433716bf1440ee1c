//! `POST /certificates/{trackingId}/reissues` and `POST /certificates/{trackingId}/renewals`:
//! a new certificate with a new tracking id that replaces an existing one.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::api::gate::Caller;
use crate::api::path_integer;
use crate::error::ApiError;
use crate::json_fields::parse_object;
use crate::model::Permission;
use crate::ordering::{CertificateResponse, reissue_order, renew_order};
use crate::simulator::Simulator;

/// Reissues the order: 201 with the new certificate.
pub async fn reissue(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<CertificateResponse>), ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    caller.require(Permission::Reissue)?;
    let body = parse_object(&body)?;
    let certificate = sim.with_state(|state, context| {
        reissue_order(state, context, tracking_id, &caller.user_name, &body)
    })?;
    tracing::info!(tracking.id = tracking_id, tracking.new_id = certificate.tracking_id, user.name = %caller.user_name, "Simulated certificate reissued");
    Ok((StatusCode::CREATED, Json(certificate)))
}

/// Renews the order: 201 with the new certificate.
pub async fn renew(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    tracking_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<CertificateResponse>), ApiError> {
    let tracking_id = path_integer(tracking_id, "trackingId")?;
    caller.require(Permission::Renew)?;
    let body = parse_object(&body)?;
    let certificate = sim.with_state(|state, context| {
        renew_order(state, context, tracking_id, &caller.user_name, &body)
    })?;
    tracing::info!(tracking.id = tracking_id, tracking.new_id = certificate.tracking_id, user.name = %caller.user_name, "Simulated certificate renewed");
    Ok((StatusCode::CREATED, Json(certificate)))
}
