//! Routes for Entrust credentials, their catalog and catalog syncs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use certitude_proto::credential::v1 as proto;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::openapi::{IdPath, enum_schema};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Base URL of the Entrust API when a request names none.
pub const DEFAULT_ENTRUST_API_URL: &str = "https://api.entrust.net/enterprise/v2";

/// Body of `POST /v1/credentials`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCredential {
    /// Unique name, without control characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Entrust API base URL; `https://api.entrust.net/enterprise/v2` when absent.
    #[serde(default)]
    api_base_url: Option<String>,
    /// Entrust API user, without `:` and control characters.
    #[schema(min_length = 1)]
    username: String,
    /// Entrust API key, stored sealed and never returned.
    #[schema(min_length = 1, write_only)]
    api_key: String,
    /// Client certificate in PEM, when the API user has one bound; with `client_key_pem`.
    #[serde(default)]
    client_certificate_pem: Option<String>,
    /// Private key of the client certificate in PEM.
    #[serde(default)]
    #[schema(write_only)]
    client_key_pem: Option<String>,
    /// Whether the Entrust user has administrator rights.
    #[serde(default)]
    is_administrator: bool,
}

/// An Entrust credential, never with its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credential {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    api_base_url: String,
    username: String,
    is_administrator: bool,
    has_client_certificate: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// Whether Entrust refused an administrator action taken with this credential.
    lacks_administrator_right: bool,
    /// When Entrust first refused; absent unless `lacks_administrator_right`.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    administrator_right_missing_since: String,
    /// The action Entrust refused, such as `approve order 12345`.
    #[serde(skip_serializing_if = "String::is_empty")]
    denied_administrator_action: String,
    /// Message for display: what happened and what to do.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncJob {
    #[schema(format = Uuid)]
    id: String,
    #[schema(value_type = SyncJobKind)]
    kind: &'static str,
    #[schema(format = Uuid)]
    credential_id: String,
    /// Catalog kinds the run syncs.
    #[schema(value_type = Vec<CatalogKind>)]
    kinds: Vec<String>,
    /// What started the run: `credential_added`, `on_demand` or `schedule`.
    #[schema(value_type = SyncTrigger)]
    trigger: String,
    /// `running` until the run ends; `partial` when some kinds failed and the others were
    /// stored.
    #[schema(value_type = SyncState)]
    state: String,
    progress: SyncProgress,
    /// Why the run or some of its kinds failed, one `<kind>: <reason>` per failed kind.
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    #[schema(format = DateTime)]
    started_at: String,
    /// Absent while the run is `running`.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    finished_at: String,
}

/// Entries a catalog sync has seen and changed so far.
#[derive(Debug, Serialize, ToSchema)]
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

#[utoipa::path(
    post,
    path = "/v1/credentials",
    tag = "credentials",
    operation_id = "addCredential",
    summary = "Add an Entrust credential",
    description = "Verifies the credential against Entrust, stores its API key sealed and starts \
                   a catalog sync. Needs the operator role.",
    request_body = AddCredential,
    responses(
        (status = 201, description = "The credential was added.", body = Credential,
            headers(("Location" = String))),
    ),
)]
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

#[utoipa::path(
    get,
    path = "/v1/credentials",
    tag = "credentials",
    operation_id = "listCredentials",
    summary = "List credentials, oldest first",
    params(PageQuery),
    responses((status = 200, description = "One page of credentials.", body = Page<Credential>)),
)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Entries per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    cursor: Option<String>,
    /// Also list entries that a later sync no longer found at Entrust.
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

#[utoipa::path(
    get,
    path = "/v1/credentials/{id}",
    tag = "credentials",
    operation_id = "getCredential",
    summary = "Get one credential",
    params(IdPath),
    responses((status = 200, description = "The credential.", body = Credential)),
)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Catalog kinds to sync, separated by commas; every kind when absent.
    #[param(value_type = Option<Vec<CatalogKind>>, inline, style = Form, explode = false)]
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

#[utoipa::path(
    post,
    path = "/v1/credentials/{id}/syncs",
    tag = "syncs",
    operation_id = "startCatalogSync",
    summary = "Start a catalog sync of one credential, or join the running one",
    description = "Needs the operator role.",
    params(IdPath, SyncQuery),
    responses(
        (status = 202, description = "The sync job, started or joined.", body = SyncJob,
            headers(("Location" = String))),
    ),
)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncJobs {
    items: Vec<SyncJob>,
}

#[utoipa::path(
    post,
    path = "/v1/syncs",
    tag = "syncs",
    operation_id = "startAllCatalogSyncs",
    summary = "Start a catalog sync of every credential",
    description = "A credential with a sync running gets no second one. Needs the operator role.",
    params(SyncQuery),
    responses((status = 202, description = "One sync job per credential, in the credentials' \
                                          creation order.", body = SyncJobs)),
)]
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

/// Body of `PATCH /v1/credentials/{id}`: absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// A new unique name, without control characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    /// A new API key of the same API user, verified against Entrust first.
    #[serde(default)]
    #[schema(write_only)]
    api_key: Option<String>,
    /// A new client certificate in PEM, together with `client_key_pem`.
    #[serde(default)]
    client_certificate_pem: Option<String>,
    #[serde(default)]
    #[schema(write_only)]
    client_key_pem: Option<String>,
    /// Removes the client certificate and key; not together with a new certificate.
    #[serde(default)]
    remove_client_certificate: bool,
    /// Setting it, to either value, also clears `lacks_administrator_right`.
    #[serde(default)]
    is_administrator: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/v1/credentials/{id}",
    tag = "credentials",
    operation_id = "updateCredential",
    summary = "Change a credential",
    description = "Rotates the API key or the client certificate (verified against Entrust first; \
                   nothing changes on failure), renames the credential or sets \
                   `is_administrator`. Needs the operator role.",
    params(IdPath),
    request_body = UpdateCredential,
    responses((status = 200, description = "The credential afterwards.", body = Credential)),
)]
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

/// Query of `DELETE /v1/credentials/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Delete the credential even while orders use it.
    #[serde(default)]
    force: bool,
}

#[utoipa::path(
    delete,
    path = "/v1/credentials/{id}",
    tag = "credentials",
    operation_id = "deleteCredential",
    summary = "Delete a credential with its catalog",
    description = "Rejected with 422 while orders use the credential, unless `force=true`. Needs \
                   the admin role.",
    params(IdPath, DeleteQuery),
    responses((status = 200, description = "The credential as it was.", body = Credential)),
)]
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

#[utoipa::path(
    get,
    path = "/v1/syncs/{id}",
    tag = "syncs",
    operation_id = "getCatalogSync",
    summary = "Get a catalog sync job",
    params(IdPath),
    responses((status = 200, description = "The sync job.", body = SyncJob)),
)]
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

/// An organization of a credential's Entrust account, as last synced.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    name: String,
    /// Entrust client id; 0 when Entrust did not report it.
    client_id: i32,
    verification_status: String,
    /// When a sync last found the organization missing; absent while Entrust lists it.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    removed_at: String,
}

/// A domain of a credential's Entrust account, as last synced.
#[derive(Debug, Serialize, ToSchema)]
pub struct Domain {
    name: String,
    /// Entrust client id; 0 when Entrust did not report it.
    client_id: i32,
    verification_method: String,
    verification_status: String,
    ov_eligible: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    ov_expiry: String,
    ev_eligible: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    ev_expiry: String,
    /// When a sync last found the domain missing; absent while Entrust lists it.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    removed_at: String,
}

/// A product of a credential's Entrust account with its counts, as last synced.
#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    product_type: String,
    unlimited: bool,
    /// Absent for an unlimited product and when Entrust reported no counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    remaining_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    used_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    total_count: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/credentials/{id}/organizations",
    tag = "credentials",
    operation_id = "listOrganizations",
    summary = "List a credential's synced organizations",
    params(IdPath, CatalogQuery),
    responses((status = 200, description = "One page of organizations, by name.",
               body = Page<Organization>)),
)]
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

#[utoipa::path(
    get,
    path = "/v1/credentials/{id}/domains",
    tag = "credentials",
    operation_id = "listDomains",
    summary = "List a credential's synced domains with their verification status",
    params(IdPath, CatalogQuery),
    responses((status = 200, description = "One page of domains, by name.", body = Page<Domain>)),
)]
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

#[utoipa::path(
    get,
    path = "/v1/credentials/{id}/products",
    tag = "credentials",
    operation_id = "listProducts",
    summary = "List a credential's synced products with their counts",
    params(IdPath, CatalogQuery),
    responses((status = 200, description = "One page of products, by name.",
               body = Page<Product>)),
)]
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

enum_schema!(
    /// Kind of a catalog sync job.
    SyncJobKind = &["catalog_sync"]
);

enum_schema!(
    /// Cause of a catalog sync.
    SyncTrigger = &["credential_added", "on_demand", "schedule"]
);

enum_schema!(
    /// State of a catalog sync.
    SyncState = &["running", "succeeded", "partial", "failed"]
);

enum_schema!(
    /// Kind of catalog entries that a sync fetches.
    CatalogKind = &["organizations", "domains", "products"]
);

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
