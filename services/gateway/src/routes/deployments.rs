//! Routes for deployment locations: where each certificate is deployed, and which locations
//! still need a certificate deployed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use certitude_proto::inventory::v1 as proto;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::openapi::{DeploymentPath, IdPath};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Body of `POST /v1/certificates/{id}/deployments`: at least one of `host`, `path` and
/// `system`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDeployment {
    /// Host name or IP address.
    #[serde(default)]
    #[schema(max_length = 253)]
    host: String,
    /// Port on `host`; 0 or absent for none.
    #[serde(default)]
    #[schema(maximum = 65535)]
    port: u32,
    /// File path on the host or in the system.
    #[serde(default)]
    #[schema(max_length = 1024)]
    path: String,
    /// System that serves the certificate, such as a load balancer's name.
    #[serde(default)]
    #[schema(max_length = 255)]
    system: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    note: String,
    /// True when the certificate still has to be deployed there.
    #[serde(default)]
    needs_deployment: bool,
}

/// Query of the deployment lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeploymentQuery {
    /// Only locations that need (`true`) or do not need (`false`) deploying; both when absent.
    needs_deployment: Option<bool>,
    /// Locations per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    cursor: Option<String>,
}

/// A location where a certificate is deployed or is to be deployed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deployment {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    certificate_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1, maximum = 65535)]
    port: Option<u32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    system: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    note: String,
    /// Whether the certificate still has to be deployed at this location.
    needs_deployment: bool,
    /// The predecessor's location this one was copied from on renewal or reissue.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    inherited_from: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    created_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    confirmed_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    confirmed_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    certificate_common_name: String,
    #[schema(format = DateTime)]
    certificate_not_after: String,
}

impl From<proto::Deployment> for Deployment {
    fn from(deployment: proto::Deployment) -> Self {
        Self {
            id: deployment.id,
            certificate_id: deployment.certificate_id,
            host: deployment.host,
            port: (deployment.port != 0).then_some(deployment.port),
            path: deployment.path,
            system: deployment.system,
            note: deployment.note,
            needs_deployment: deployment.needs_deployment,
            inherited_from: deployment.inherited_from,
            created_at: deployment.created_at,
            created_by: deployment.created_by,
            confirmed_at: deployment.confirmed_at,
            confirmed_by: deployment.confirmed_by,
            certificate_common_name: deployment.certificate_common_name,
            certificate_not_after: deployment.certificate_not_after,
        }
    }
}

/// `GET /v1/certificates/{id}/deployments`: one certificate's locations, oldest first.
#[utoipa::path(
    get,
    path = "/v1/certificates/{id}/deployments",
    tag = "deployments",
    operation_id = "listCertificateDeployments",
    summary = "List a certificate's deployment locations, oldest first",
    params(IdPath, DeploymentQuery),
    responses((status = 200, description = "One page of locations.", body = Page<Deployment>)),
)]
pub async fn list_of_certificate(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<DeploymentQuery>,
) -> Result<Json<Page<Deployment>>, Problem> {
    principal.require(Role::Viewer)?;
    let certificate_id = parse_id("id", &id)?;
    list_page(&state, certificate_id, query).await
}

/// `GET /v1/deployments`: the locations of every certificate in the inventory, oldest first;
/// `needs_deployment=true` lists what still needs deploying.
#[utoipa::path(
    get,
    path = "/v1/deployments",
    tag = "deployments",
    operation_id = "listDeployments",
    summary = "List the deployment locations of every certificate not removed, oldest first",
    params(DeploymentQuery),
    responses((status = 200, description = "One page of locations.", body = Page<Deployment>)),
)]
pub async fn list_all(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<DeploymentQuery>,
) -> Result<Json<Page<Deployment>>, Problem> {
    principal.require(Role::Viewer)?;
    list_page(&state, String::new(), query).await
}

async fn list_page(
    state: &AppState,
    certificate_id: String,
    query: DeploymentQuery,
) -> Result<Json<Page<Deployment>>, Problem> {
    let page = PageQuery::new(query.limit, query.cursor);
    let response = state
        .clients
        .inventory
        .clone()
        .list_deployments(proto::ListDeploymentsRequest {
            certificate_id,
            needs_deployment: query.needs_deployment,
            page_size: page.limit()?,
            page_token: page.page_token()?,
        })
        .await
        .or_problem()?;
    let items = response
        .deployments
        .into_iter()
        .map(Deployment::from)
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

/// `POST /v1/certificates/{id}/deployments`: records a location (201).
#[utoipa::path(
    post,
    path = "/v1/certificates/{id}/deployments",
    tag = "deployments",
    operation_id = "addDeployment",
    summary = "Record a deployment location of a certificate",
    description = "A repeated location is rejected with 409. Needs the operator role.",
    params(IdPath),
    request_body = AddDeployment,
    responses((status = 201, description = "The recorded location.", body = Deployment)),
)]
pub async fn add(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AddDeployment>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let certificate_id = parse_id("id", &id)?;
    let deployment = state
        .clients
        .inventory
        .clone()
        .add_deployment(proto::AddDeploymentRequest {
            certificate_id,
            host: body.host,
            port: body.port,
            path: body.path,
            system: body.system,
            note: body.note,
            needs_deployment: body.needs_deployment,
            actor: principal.token_name.clone(),
        })
        .await
        .or_problem()?;
    Ok((StatusCode::CREATED, Json(Deployment::from(deployment))))
}

/// `POST /v1/certificates/{id}/deployments/{deployment_id}/confirm`: the certificate is
/// deployed there now.
#[utoipa::path(
    post,
    path = "/v1/certificates/{id}/deployments/{deployment_id}/confirm",
    tag = "deployments",
    operation_id = "confirmDeployment",
    summary = "Confirm that the certificate is deployed at a location",
    description = "Needs the operator role.",
    params(DeploymentPath),
    responses((status = 200, description = "The location, with `needs_deployment` false.",
               body = Deployment)),
)]
pub async fn confirm(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, deployment_id)): Path<(String, String)>,
) -> Result<Json<Deployment>, Problem> {
    principal.require(Role::Operator)?;
    let certificate_id = parse_id("id", &id)?;
    let deployment_id = parse_id("deployment_id", &deployment_id)?;
    let deployment = state
        .clients
        .inventory
        .clone()
        .confirm_deployment(proto::ConfirmDeploymentRequest {
            certificate_id,
            deployment_id,
            actor: principal.token_name.clone(),
        })
        .await
        .or_problem()?;
    Ok(Json(deployment.into()))
}

/// `DELETE /v1/certificates/{id}/deployments/{deployment_id}`: deletes the location and
/// returns it.
#[utoipa::path(
    delete,
    path = "/v1/certificates/{id}/deployments/{deployment_id}",
    tag = "deployments",
    operation_id = "removeDeployment",
    summary = "Delete a deployment location",
    description = "Needs the operator role.",
    params(DeploymentPath),
    responses((status = 200, description = "The location as it was.", body = Deployment)),
)]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, deployment_id)): Path<(String, String)>,
) -> Result<Json<Deployment>, Problem> {
    principal.require(Role::Operator)?;
    let certificate_id = parse_id("id", &id)?;
    let deployment_id = parse_id("deployment_id", &deployment_id)?;
    let deployment = state
        .clients
        .inventory
        .clone()
        .remove_deployment(proto::RemoveDeploymentRequest {
            certificate_id,
            deployment_id,
            actor: principal.token_name.clone(),
        })
        .await
        .or_problem()?;
    Ok(Json(deployment.into()))
}
