//! The `/v1` routes and what they share.

pub mod certificates;
pub mod credentials;
pub mod orders;

use axum::Router;
use axum::routing::{get, post};
use uuid::Uuid;

use crate::AppState;
use crate::problem::Problem;

/// Checks that a path or body identifier is a UUID, naming `field` when it is not.
pub fn parse_id(field: &str, value: &str) -> Result<String, Problem> {
    Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| Problem::invalid_field(field, format!("{value:?} is not a UUID")))
}

/// Returns every `/v1` route; authentication is layered on by the caller.
pub fn v1() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/credentials",
            post(credentials::add).get(credentials::list),
        )
        .route(
            "/v1/credentials/{id}",
            get(credentials::get)
                .patch(credentials::update)
                .delete(credentials::delete),
        )
        .route("/v1/credentials/{id}/syncs", post(credentials::start_sync))
        .route(
            "/v1/credentials/{id}/organizations",
            get(credentials::organizations),
        )
        .route("/v1/credentials/{id}/domains", get(credentials::domains))
        .route("/v1/credentials/{id}/products", get(credentials::products))
        .route("/v1/syncs", post(credentials::start_sync_all))
        .route("/v1/syncs/{id}", get(credentials::get_sync))
        .route("/v1/imports", post(orders::start_import))
        .route("/v1/imports/{id}", get(orders::get_import))
        .route("/v1/orders", post(orders::create).get(orders::list))
        .route("/v1/orders/{id}", get(orders::get))
        .route("/v1/certificates", get(certificates::list))
        .route("/v1/certificates/{id}", get(certificates::get))
}
