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
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::problem::{Problem, excerpt};
use crate::{AppState, openapi};

/// Checks that a path or body identifier is a UUID, naming `field` when it is not.
pub fn parse_id(field: &str, value: &str) -> Result<String, Problem> {
    Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| Problem::invalid_field(field, format!("{:?} is not a UUID", excerpt(value))))
}

/// Returns every `/v1` route; authentication is layered on by the caller.
pub fn v1() -> Router<AppState> {
    api().split_for_parts().0
}

/// Returns every `/v1` route together with its part of the OpenAPI document. Each `routes!`
/// call contains the handlers of one path.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(credentials::add, credentials::list))
        .routes(routes!(
            credentials::get,
            credentials::update,
            credentials::delete
        ))
        .routes(routes!(credentials::start_sync))
        .routes(routes!(credentials::organizations))
        .routes(routes!(credentials::domains))
        .routes(routes!(credentials::products))
        .routes(routes!(credentials::start_sync_all))
        .routes(routes!(credentials::get_sync))
        .routes(routes!(orders::start_import))
        .routes(routes!(orders::get_import))
        .routes(routes!(orders::create, orders::list))
        .routes(routes!(orders::get, order_actions::delete))
        .routes(routes!(order_actions::approve))
        .routes(routes!(order_actions::decline))
        .routes(routes!(order_actions::suspend))
        .routes(routes!(order_actions::resume))
        .routes(routes!(order_actions::renew))
        .routes(routes!(order_actions::reissue))
        .routes(routes!(order_actions::revoke))
        .routes(routes!(order_actions::history))
        .routes(routes!(certificates::list))
        .routes(routes!(certificate_files::import).map(certificate_files::import_route))
        .routes(routes!(certificates::get, certificates::remove))
        .routes(routes!(
            certificate_files::export_pem,
            certificate_files::export_pkcs12
        ))
        .routes(routes!(deployments::list_of_certificate, deployments::add))
        .routes(routes!(deployments::remove))
        .routes(routes!(deployments::confirm))
        .routes(routes!(deployments::list_all))
        .routes(routes!(license::get, license::set))
        .routes(routes!(
            renewals::get_policy,
            renewals::set_policy,
            renewals::delete_policy
        ))
        .routes(routes!(renewals::forecast))
        .routes(routes!(renewals::audit))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(audit::head))
        .routes(routes!(openapi::serve))
}
