//! The `/v1` routes and what they share.

pub mod audit;
pub mod certificate_files;
pub mod certificates;
pub mod credentials;
pub mod deployments;
pub mod license;
pub mod order_actions;
pub mod orders;
pub mod renewals;
pub mod tokens;

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
        .route(
            "/v1/orders/{id}",
            get(orders::get).delete(order_actions::delete),
        )
        .route("/v1/orders/{id}/approve", post(order_actions::approve))
        .route("/v1/orders/{id}/decline", post(order_actions::decline))
        .route("/v1/orders/{id}/suspend", post(order_actions::suspend))
        .route("/v1/orders/{id}/resume", post(order_actions::resume))
        .route("/v1/orders/{id}/renew", post(order_actions::renew))
        .route("/v1/orders/{id}/reissue", post(order_actions::reissue))
        .route("/v1/orders/{id}/revoke", post(order_actions::revoke))
        .route("/v1/orders/{id}/history", get(order_actions::history))
        .route("/v1/certificates", get(certificates::list))
        .route(
            "/v1/certificates/import",
            certificate_files::import_route(post(certificate_files::import)),
        )
        .route(
            "/v1/certificates/{id}",
            get(certificates::get).delete(certificates::remove),
        )
        .route(
            "/v1/certificates/{id}/export",
            get(certificate_files::export_pem).post(certificate_files::export_pkcs12),
        )
        .route(
            "/v1/certificates/{id}/deployments",
            get(deployments::list_of_certificate).post(deployments::add),
        )
        .route(
            "/v1/certificates/{id}/deployments/{deployment_id}",
            axum::routing::delete(deployments::remove),
        )
        .route(
            "/v1/certificates/{id}/deployments/{deployment_id}/confirm",
            post(deployments::confirm),
        )
        .route("/v1/deployments", get(deployments::list_all))
        .route("/v1/license", get(license::get).put(license::set))
        .route(
            "/v1/orders/{id}/renewal-policy",
            get(renewals::get_policy)
                .put(renewals::set_policy)
                .delete(renewals::delete_policy),
        )
        .route("/v1/renewals/forecast", get(renewals::forecast))
        .route("/v1/renewals/audit", get(renewals::audit))
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/head", get(audit::head))
}
