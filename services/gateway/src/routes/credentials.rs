//! Routes for Entrust credentials, their catalog and catalog syncs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use certitude_proto::credential::v1 as proto;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Base URL of the Entrust API when a request names none.
pub const DEFAULT_ENTRUST_API_URL: &str = "https://api.entrust.net/enterprise/v2";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddCredential {
    name: String,
    #[serde(default)]
    api_base_url: Option<String>,
    username: String,
    api_key: String,
    #[serde(default)]
    client_certificate_pem: Option<String>,
    #[serde(default)]
    client_key_pem: Option<String>,
    #[serde(default)]
    is_administrator: bool,
}

#[derive(Debug, Serialize)]
pub struct Credential {
    id: String,
    name: String,
    api_base_url: String,
    username: String,
    is_administrator: bool,
    has_client_certificate: bool,
    created_at: String,
    updated_at: String,
    /// Whether Entrust refused an administrator action taken with this credential.
    lacks_administrator_right: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    administrator_right_missing_since: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    denied_administrator_action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    administrator_right_message: String,
}

impl From<proto::Credential> for Credential {
    fn from(credential: proto::Credential) -> Self {
        Self {
            id: credential.id,
            name: credential.name,
            api_base_url: credential.api_base_url,
            username: credential.username,
            is_administrator: credential.is_administrator,
            has_client_certificate: credential.has_client_certificate,
            created_at: credential.created_at,
            updated_at: credential.updated_at,
            lacks_administrator_right: credential.lacks_administrator_right,
            administrator_right_missing_since: credential.administrator_right_missing_since,
            denied_administrator_action: credential.denied_administrator_action,
            administrator_right_message: credential.administrator_right_message,
        }
    }
}

/// A catalog sync shown as a job resource.
#[derive(Debug, Serialize)]
pub struct SyncJob {
    id: String,
    kind: &'static str,
    credential_id: String,
    /// Catalog kinds the run syncs.
    kinds: Vec<String>,
    /// What started the run: `credential_added`, `on_demand` or `schedule`.
    trigger: String,
    state: String,
    progress: SyncProgress,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    started_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    finished_at: String,
}

#[derive(Debug, Serialize)]
struct SyncProgress {
    organizations: u32,
    domains: u32,
    products: u32,
    added: u32,
    changed: u32,
    removed: u32,
}

impl From<proto::SyncRun> for SyncJob {
    fn from(run: proto::SyncRun) -> Self {
        Self {
            id: run.id,
            kind: "catalog_sync",
            credential_id: run.credential_id,
            kinds: run.kinds,
            trigger: run.trigger,
            state: run.state,
            progress: SyncProgress {
                organizations: run.organizations,
                domains: run.domains,
                products: run.products,
                added: run.added,
                changed: run.changed,
                removed: run.removed,
            },
            error: run.error,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

pub async fn add(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<AddCredential>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let request = proto::AddCredentialRequest {
        name: body.name,
        api_base_url: body
            .api_base_url
            .unwrap_or_else(|| DEFAULT_ENTRUST_API_URL.to_owned()),
        username: body.username,
        api_key: body.api_key,
        client_certificate_pem: body.client_certificate_pem.unwrap_or_default(),
        client_key_pem: body.client_key_pem.unwrap_or_default(),
        is_administrator: body.is_administrator,
    };
    let credential = state
        .clients
        .credentials
        .clone()
        .add_credential(request)
        .await
        .or_problem()?;
    let location = format!("/v1/credentials/{}", credential.id);
    Ok(created(location, Credential::from(credential)))
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<Page<Credential>>, Problem> {
    principal.require(Role::Viewer)?;
    let response = state
        .clients
        .credentials
        .clone()
        .list_credentials(proto::ListCredentialsRequest {
            page_size: page.limit()?,
            page_token: page.page_token()?,
        })
        .await
        .or_problem()?;
    let items = response
        .credentials
        .into_iter()
        .map(Credential::from)
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

/// Query of the catalog lists: a page, and whether to include entries Entrust no longer lists.
#[derive(Debug, Deserialize)]
pub struct CatalogQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    #[serde(default)]
    include_removed: bool,
}

impl CatalogQuery {
    fn request(&self, credential_id: String) -> Result<proto::CatalogRequest, Problem> {
        let page = PageQuery::new(self.limit, self.cursor.clone());
        Ok(proto::CatalogRequest {
            credential_id,
            page_size: page.limit()?,
            page_token: page.page_token()?,
            include_removed: self.include_removed,
        })
    }
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Credential>, Problem> {
    principal.require(Role::Viewer)?;
    let id = parse_id("id", &id)?;
    let credential = state
        .clients
        .credentials
        .clone()
        .get_credential(proto::GetCredentialRequest { id })
        .await
        .or_problem()?;
    Ok(Json(credential.into()))
}

/// Query of the sync routes: the catalog kinds to sync, separated by commas; all when absent.
#[derive(Debug, Deserialize)]
pub struct SyncQuery {
    kinds: Option<String>,
}

impl SyncQuery {
    fn kinds(&self) -> Vec<String> {
        self.kinds
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|kind| !kind.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

pub async fn start_sync(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<SyncQuery>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let credential_id = parse_id("id", &id)?;
    let run = state
        .clients
        .credentials
        .clone()
        .sync_catalog(proto::SyncCatalogRequest {
            credential_id,
            kinds: query.kinds(),
        })
        .await
        .or_problem()?;
    let location = format!("/v1/syncs/{}", run.id);
    Ok(accepted(location, SyncJob::from(run)))
}

/// The sync runs started (or joined) for every credential.
#[derive(Debug, Serialize)]
pub struct SyncJobs {
    items: Vec<SyncJob>,
}

pub async fn start_sync_all(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<SyncQuery>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let response = state
        .clients
        .credentials
        .clone()
        .sync_all_catalogs(proto::SyncAllCatalogsRequest {
            kinds: query.kinds(),
        })
        .await
        .or_problem()?;
    let items = response.sync_runs.into_iter().map(SyncJob::from).collect();
    Ok((StatusCode::ACCEPTED, Json(SyncJobs { items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    client_certificate_pem: Option<String>,
    #[serde(default)]
    client_key_pem: Option<String>,
    #[serde(default)]
    remove_client_certificate: bool,
    #[serde(default)]
    is_administrator: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateCredential>,
) -> Result<Json<Credential>, Problem> {
    principal.require(Role::Operator)?;
    let id = parse_id("id", &id)?;
    let credential = state
        .clients
        .credentials
        .clone()
        .update_credential(proto::UpdateCredentialRequest {
            id,
            name: body.name,
            api_key: body.api_key,
            client_certificate_pem: body.client_certificate_pem,
            client_key_pem: body.client_key_pem,
            remove_client_certificate: body.remove_client_certificate,
            is_administrator: body.is_administrator,
        })
        .await
        .or_problem()?;
    Ok(Json(credential.into()))
}

#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<DeleteQuery>,
) -> Result<Json<Credential>, Problem> {
    principal.require(Role::Admin)?;
    let id = parse_id("id", &id)?;
    let credential = state
        .clients
        .credentials
        .clone()
        .delete_credential(proto::DeleteCredentialRequest {
            id,
            force: query.force,
        })
        .await
        .or_problem()?;
    Ok(Json(credential.into()))
}

pub async fn get_sync(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SyncJob>, Problem> {
    principal.require(Role::Viewer)?;
    let id = parse_id("id", &id)?;
    let run = state
        .clients
        .credentials
        .clone()
        .get_sync_run(proto::GetSyncRunRequest { id })
        .await
        .or_problem()?;
    Ok(Json(run.into()))
}

#[derive(Debug, Serialize)]
pub struct Organization {
    name: String,
    client_id: i32,
    verification_status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    removed_at: String,
}

#[derive(Debug, Serialize)]
pub struct Domain {
    name: String,
    client_id: i32,
    verification_method: String,
    verification_status: String,
    ov_eligible: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    ov_expiry: String,
    ev_eligible: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    ev_expiry: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    removed_at: String,
}

#[derive(Debug, Serialize)]
pub struct Product {
    product_type: String,
    unlimited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    used_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_count: Option<i64>,
}

pub async fn organizations(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<CatalogQuery>,
) -> Result<Json<Page<Organization>>, Problem> {
    principal.require(Role::Viewer)?;
    let credential_id = parse_id("id", &id)?;
    let response = state
        .clients
        .credentials
        .clone()
        .list_organizations(query.request(credential_id)?)
        .await
        .or_problem()?;
    let items = response
        .organizations
        .into_iter()
        .map(|organization| Organization {
            name: organization.name,
            client_id: organization.client_id,
            verification_status: organization.verification_status,
            removed_at: organization.removed_at,
        })
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

pub async fn domains(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<CatalogQuery>,
) -> Result<Json<Page<Domain>>, Problem> {
    principal.require(Role::Viewer)?;
    let credential_id = parse_id("id", &id)?;
    let response = state
        .clients
        .credentials
        .clone()
        .list_domains(query.request(credential_id)?)
        .await
        .or_problem()?;
    let items = response
        .domains
        .into_iter()
        .map(|domain| Domain {
            name: domain.name,
            client_id: domain.client_id,
            verification_method: domain.verification_method,
            verification_status: domain.verification_status,
            ov_eligible: domain.ov_eligible,
            ov_expiry: domain.ov_expiry,
            ev_eligible: domain.ev_eligible,
            ev_expiry: domain.ev_expiry,
            removed_at: domain.removed_at,
        })
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

pub async fn products(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<CatalogQuery>,
) -> Result<Json<Page<Product>>, Problem> {
    principal.require(Role::Viewer)?;
    let credential_id = parse_id("id", &id)?;
    let response = state
        .clients
        .credentials
        .clone()
        .list_products(query.request(credential_id)?)
        .await
        .or_problem()?;
    let items = response
        .products
        .into_iter()
        .map(|product| {
            let counted = (!product.unlimited && product.counts_reported).then_some(());
            Product {
                product_type: product.product_type,
                unlimited: product.unlimited,
                remaining_count: counted.map(|()| product.remaining_count),
                used_count: counted.map(|()| product.used_count),
                total_count: counted.map(|()| product.total_count),
            }
        })
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

/// A 201 response with a `Location` header.
pub(crate) fn created<T: Serialize>(location: String, body: T) -> impl IntoResponse {
    with_location(StatusCode::CREATED, location, body)
}

/// A 202 response for a started job, with the job's `Location`.
pub(crate) fn accepted<T: Serialize>(location: String, body: T) -> impl IntoResponse {
    with_location(StatusCode::ACCEPTED, location, body)
}

fn with_location<T: Serialize>(status: StatusCode, location: String, body: T) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, value);
    }
    (status, headers, Json(body))
}
