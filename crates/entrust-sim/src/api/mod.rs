//! The simulated ECS REST API under `/enterprise/v2`, one module per resource.
//!
//! Every route sits behind [`gate::gate`] (faults, Basic auth, client certificates, rate
//! limits and the request log). Unknown paths and
//! methods get ErrorResponse bodies too, never axum's plain-text defaults. Bodies are read as
//! bytes and parsed by the handlers, so no Content-Type is required, and GET handlers never read
//! a body.

mod application;
mod certificates;
mod clients;
mod domain_detail;
mod domains;
pub(crate) mod gate;
mod inventories;
pub(crate) mod listing;
mod organizations;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::middleware;
use axum::routing::{get, post, put};

use crate::error::ApiError;
use crate::simulator::Simulator;

/// Builds the `/enterprise/v2` router.
pub(crate) fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/application/version", get(application::version))
        .route("/clients", get(clients::list))
        .route("/clients/{clientId}", get(clients::detail))
        .route(
            "/clients/{clientId}/organizations",
            get(clients::organizations),
        )
        .route("/organizations", get(organizations::list))
        .route("/domains", get(domains::list_all))
        .route(
            "/clients/{clientId}/domains",
            get(domains::list_for_client).post(domain_detail::add),
        )
        .route(
            "/clients/{clientId}/domains/{domain}",
            get(domain_detail::detail).put(domain_detail::reverify),
        )
        .route("/inventories", get(inventories::list))
        .route(
            "/certificates",
            get(certificates::list).post(certificates::create),
        )
        .route(
            "/certificates/{trackingId}",
            get(certificates::detail).patch(certificates::patch),
        )
        .route(
            "/certificates/thumbprints/{thumbprint}",
            get(certificates::by_thumbprint),
        )
        .route(
            "/certificates/{trackingId}/reissues",
            post(certificates::reissue),
        )
        .route(
            "/certificates/{trackingId}/renewals",
            post(certificates::renew),
        )
        .route(
            "/certificates/{trackingId}/revocations",
            post(certificates::revoke),
        )
        .route(
            "/certificates/{trackingId}/deactivations",
            post(certificates::deactivate),
        )
        .route(
            "/certificates/{trackingId}/tracking",
            put(certificates::update_tracking),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sim.clone(), gate::gate))
        .with_state(sim)
}

/// Returns the 404 ErrorResponse for a path that names no resource.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("No resource exists at this path.".to_owned())
}

/// Returns the 405 ErrorResponse for a method the resource does not support.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Reads an integer path parameter; anything else is a 400 naming `field`.
pub(crate) fn path_integer(
    raw: Result<axum::extract::Path<String>, PathRejection>,
    field: &str,
) -> Result<i64, ApiError> {
    let text = raw
        .map(|axum::extract::Path(text)| text)
        .map_err(|_| ApiError::invalid(field, format!("{field} must be an integer.")))?;
    text.trim().parse::<i32>().map(i64::from).map_err(|_| {
        ApiError::invalid(field, format!("{field} {text:?} must be an int32 integer."))
    })
}
