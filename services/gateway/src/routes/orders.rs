//! Routes for orders and order imports.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use certitude_proto::order::v1 as proto;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::credentials::{accepted, created};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Header that makes order creation safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Key algorithm of a new order when the request names none.
pub const DEFAULT_KEY_ALGORITHM: &str = "ECDSA_P256";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    credential_id: String,
    product: String,
    common_name: String,
    #[serde(default)]
    dns_names: Vec<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    client_id: Option<i32>,
    #[serde(default)]
    key_algorithm: Option<String>,
    /// Validity in days; the order-manager's default applies when absent.
    #[serde(default)]
    validity_days: Option<u32>,
    #[serde(default)]
    queue_for_approval: bool,
}

#[derive(Debug, Serialize)]
pub struct Order {
    id: String,
    credential_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_id: Option<i64>,
    product: String,
    common_name: String,
    dns_names: Vec<String>,
    status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    entrust_status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    certificate_id: String,
    created_at: String,
    updated_at: String,
}

impl From<proto::Order> for Order {
    fn from(order: proto::Order) -> Self {
        Self {
            id: order.id,
            credential_id: order.credential_id,
            tracking_id: (order.tracking_id != 0).then_some(order.tracking_id),
            product: order.product,
            common_name: order.common_name,
            dns_names: order.dns_names,
            status: order.status,
            entrust_status: order.entrust_status,
            certificate_id: order.certificate_id,
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateOrder>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let idempotency_key = idempotency_key(&headers)?;
    let credential_id = parse_id("credential_id", &body.credential_id)?;
    let request = proto::CreateOrderRequest {
        idempotency_key,
        credential_id,
        product: body.product,
        common_name: body.common_name,
        dns_names: body.dns_names,
        organization: body.organization.unwrap_or_default(),
        client_id: body.client_id.unwrap_or(0),
        key_algorithm: body
            .key_algorithm
            .unwrap_or_else(|| DEFAULT_KEY_ALGORITHM.to_owned()),
        validity_days: body.validity_days.unwrap_or(0),
        queue_for_approval: body.queue_for_approval,
        actor: principal.token_name.clone(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .create_order(request)
        .await
        .or_problem()?;
    let location = format!("/v1/orders/{}", order.id);
    Ok(created(location, Order::from(order)))
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let reason = "is required: send a unique value (for example a UUID) per order, and the same \
                  value when you retry it";
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| Problem::invalid_field("Idempotency-Key", reason))?;
    let key = value
        .to_str()
        .map_err(|_| Problem::invalid_field("Idempotency-Key", "must be printable ASCII"))?
        .trim();
    if key.is_empty() || key.len() > 255 {
        return Err(Problem::invalid_field(
            "Idempotency-Key",
            "must be 1 to 255 characters long",
        ));
    }
    Ok(key.to_owned())
}

#[derive(Debug, Deserialize)]
pub struct OrderListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    credential_id: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<OrderListQuery>,
) -> Result<Json<Page<Order>>, Problem> {
    principal.require(Role::Viewer)?;
    let credential_id = match &query.credential_id {
        Some(id) => parse_id("credential_id", id)?,
        None => String::new(),
    };
    let page = PageQuery::new(query.limit, query.cursor.clone());
    let response = state
        .clients
        .orders
        .clone()
        .list_orders(proto::ListOrdersRequest {
            page_size: page.limit()?,
            page_token: page.page_token()?,
            credential_id,
        })
        .await
        .or_problem()?;
    let items = response.orders.into_iter().map(Order::from).collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Viewer)?;
    let id = parse_id("id", &id)?;
    let order = state
        .clients
        .orders
        .clone()
        .get_order(proto::GetOrderRequest { id })
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartImport {
    credential_id: String,
}

/// An order import shown as a job resource.
#[derive(Debug, Serialize)]
pub struct ImportJob {
    id: String,
    kind: &'static str,
    credential_id: String,
    state: String,
    progress: ImportProgress,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    started_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    finished_at: String,
}

#[derive(Debug, Serialize)]
struct ImportProgress {
    pages: u32,
    orders: u32,
    imported: u32,
    updated: u32,
    issued: u32,
    skipped: u32,
    failed: u32,
}

impl From<proto::ImportJob> for ImportJob {
    fn from(job: proto::ImportJob) -> Self {
        Self {
            id: job.id,
            kind: "order_import",
            credential_id: job.credential_id,
            state: job.state,
            progress: ImportProgress {
                pages: job.pages,
                orders: job.orders,
                imported: job.imported,
                updated: job.updated,
                issued: job.issued,
                skipped: job.skipped,
                failed: job.failed,
            },
            error: job.error,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

pub async fn start_import(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<StartImport>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let credential_id = parse_id("credential_id", &body.credential_id)?;
    let job = state
        .clients
        .orders
        .clone()
        .start_import(proto::StartImportRequest { credential_id })
        .await
        .or_problem()?;
    let location = format!("/v1/imports/{}", job.id);
    Ok(accepted(location, ImportJob::from(job)))
}

pub async fn get_import(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, Problem> {
    principal.require(Role::Viewer)?;
    let id = parse_id("id", &id)?;
    let job = state
        .clients
        .orders
        .clone()
        .get_import_job(proto::GetImportJobRequest { id })
        .await
        .or_problem()?;
    Ok(Json(job.into()))
}
