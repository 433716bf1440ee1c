//! Routes for deployment locations: where each certificate is deployed, and which locations
//! still need a certificate deployed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use certitude_proto::inventory::v1 as proto;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Body of `POST /v1/certificates/{id}/deployments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDeployment {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: u32,
    #[serde(default)]
    path: String,
    #[serde(default)]
    system: String,
    #[serde(default)]
    note: String,
    /// True when the certificate still has to be deployed there.
    #[serde(default)]
    needs_deployment: bool,
}

/// Query of the deployment lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentQuery {
    needs_deployment: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Deployment {
    id: String,
    certificate_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    system: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    note: String,
    needs_deployment: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    inherited_from: String,
    created_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    created_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    confirmed_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    confirmed_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    certificate_common_name: String,
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
