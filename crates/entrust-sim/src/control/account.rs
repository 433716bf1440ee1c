//! Control routes for the account: domain and organization verification, the clock and the
//! rate limit.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::parse_body;
use crate::error::ApiError;
use crate::format::timestamp;
use crate::portal::{self, DomainUpdate, OrganizationUpdate};
use crate::simulator::Simulator;

/// Body of `PUT /_sim/clock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetClock {
    #[serde(with = "time::serde::rfc3339")]
    now: OffsetDateTime,
}

/// Body of `POST /_sim/clock/advance`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdvanceClock {
    #[serde(default)]
    days: i64,
    #[serde(default)]
    seconds: i64,
}

/// Body of `PUT /_sim/rate-limit`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateLimitBody {
    quota: Option<u32>,
}

/// Applies a DomainUpdate to a domain: 200 `{}`.
pub async fn update_domain(
    State(sim): State<Arc<Simulator>>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Path((client_id, domain)) =
        path.map_err(|_| ApiError::invalid("clientId", "clientId must be an integer."))?;
    let client_id = client_id.trim().parse::<i64>().map_err(|_| {
        ApiError::invalid(
            "clientId",
            format!("clientId {client_id:?} must be an integer."),
        )
    })?;
    let update: DomainUpdate = parse_body(&body)?;
    let now = sim.now();
    portal::update_domain(&mut sim.state(), now, client_id, &domain, &update)?;
    tracing::info!(client.id = client_id, domain = %domain, "Simulated domain updated through the control API");
    Ok(Json(json!({})))
}

/// Sets an organization's verification status: 200 `{}`.
pub async fn update_organization(
    State(sim): State<Arc<Simulator>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let update: OrganizationUpdate = parse_body(&body)?;
    portal::update_organization(&mut sim.state(), &update)?;
    tracing::info!(client.id = update.client_id, organization = %update.name, "Simulated organization updated through the control API");
    Ok(Json(json!({})))
}

/// Returns `{"now": RFC 3339}`.
pub async fn clock(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({ "now": timestamp(sim.now()) }))
}

/// Moves the manual clock to `now`; 409 without a manual clock.
pub async fn set_clock(
    State(sim): State<Arc<Simulator>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: SetClock = parse_body(&body)?;
    sim.manual_clock()?.set(request.now);
    Ok(Json(json!({ "now": timestamp(sim.now()) })))
}

/// Moves the manual clock by `days` and `seconds` (negative: back); 409 without a manual clock.
pub async fn advance_clock(
    State(sim): State<Arc<Simulator>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: AdvanceClock = parse_body(&body)?;
    sim.manual_clock()?
        .advance(Duration::days(request.days) + Duration::seconds(request.seconds));
    Ok(Json(json!({ "now": timestamp(sim.now()) })))
}

/// Returns `{"quota": n | null}`.
pub async fn rate_limit(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({ "quota": sim.limiter.quota() }))
}

/// Sets the per-user quota per 30-second window (`null` turns limiting off).
pub async fn set_rate_limit(
    State(sim): State<Arc<Simulator>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: RateLimitBody = parse_body(&body)?;
    if request.quota == Some(0) {
        return Err(ApiError::invalid(
            "quota",
            "quota must be at least 1; send null to turn rate limiting off.",
        ));
    }
    sim.limiter.set_quota(request.quota);
    Ok(Json(json!({ "quota": request.quota })))
}
