//! Routes for orders and order imports.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use certitude_proto::order::v1 as proto;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::openapi::{IdPath, IdempotencyKey, enum_schema};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::credentials::{accepted, created};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Header that makes order creation safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Maximum length of an `Idempotency-Key`, in characters: order-manager stores at most 200.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;
/// Key algorithm of a new order when the request names none and supplies no CSR.
pub const DEFAULT_KEY_ALGORITHM: &str = "ECDSA_P256";

/// Body of `POST /v1/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// Credential to order with.
    #[schema(format = Uuid)]
    credential_id: String,
    /// Entrust product, such as `STANDARD_SSL`.
    #[schema(min_length = 1)]
    product: String,
    /// Required unless `csr_pem` supplies it.
    #[serde(default)]
    common_name: Option<String>,
    /// Subject alternative names; with `csr_pem`, the CSR's by default.
    #[serde(default)]
    dns_names: Vec<String>,
    /// Entrust organization.
    #[serde(default)]
    organization: Option<String>,
    /// Entrust client; the primary client when absent.
    #[serde(default)]
    client_id: Option<i32>,
    /// `ECDSA_P256` by default; with `csr_pem`, the CSR's key algorithm.
    #[serde(default)]
    #[schema(value_type = Option<KeyAlgorithm>)]
    key_algorithm: Option<String>,
    /// Validity in days; the order-manager's default applies when absent.
    #[serde(default)]
    validity_days: Option<u32>,
    #[serde(default)]
    queue_for_approval: bool,
    /// The requester's own CSR in PEM, ordered with instead of a key Certitude generates.
    #[serde(default)]
    csr_pem: Option<String>,
    /// Only ask Entrust to validate the order; nothing is stored.
    #[serde(default)]
    validate_only: bool,
}

/// An order with its state (see docs/order-states.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    /// Absent for a validate-only response, because nothing was stored.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    credential_id: String,
    /// Entrust tracking id; absent until Entrust accepted the order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    tracking_id: Option<i64>,
    product: String,
    common_name: String,
    dns_names: Vec<String>,
    /// Certitude's state of the order; `VALIDATED` only in a validate-only response.
    #[schema(value_type = OrderStatus)]
    status: String,
    /// The status exactly as Entrust last reported it.
    #[serde(skip_serializing_if = "String::is_empty")]
    entrust_status: String,
    /// The certificate, once it entered Certitude.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    certificate_id: String,
    /// Absent for a validate-only response, because nothing was stored.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    created_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    updated_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    organization: String,
    /// Entrust client; absent for the primary client.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    client_id: Option<i32>,
    /// Absent for imported orders.
    #[serde(skip_serializing_if = "String::is_empty")]
    key_algorithm: String,
    /// Inventory key pair; absent for imported orders and orders placed with the requester's
    /// CSR.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    key_id: String,
    /// Requested validity in days; absent for imported orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    validity_days: Option<u32>,
    /// The order this one renews; absent otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    renews_order_id: String,
    /// The order this one reissues; absent otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    reissue_of_order_id: String,
    /// `in_inventory` or `waiting`; absent until the inventory reported on the certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(value_type = OrderInventoryState)]
    inventory_state: String,
    /// Reason the certificate waits, such as `license_limit`; absent unless it waits.
    #[serde(skip_serializing_if = "String::is_empty")]
    inventory_reason: String,
    /// Summary of the reason the certificate is not in the inventory, with what to do; absent
    /// unless it waits.
    #[serde(skip_serializing_if = "String::is_empty")]
    inventory_message: String,
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
            organization: order.organization,
            client_id: (order.client_id != 0).then_some(order.client_id),
            key_algorithm: order.key_algorithm,
            key_id: order.key_id,
            validity_days: (order.validity_days != 0).then_some(order.validity_days),
            renews_order_id: order.renews_order_id,
            reissue_of_order_id: order.reissue_of_order_id,
            inventory_state: order.inventory_state,
            inventory_reason: order.inventory_reason,
            inventory_message: order.inventory_message,
        }
    }
}

/// Places an order (201 with its `Location`), or with `validate_only` has Entrust validate it
/// (200, nothing stored, no `Idempotency-Key` needed).
#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    operation_id = "createOrder",
    summary = "Place an order, or have Entrust validate one",
    description = "Certitude generates the key and CSR, or the request supplies its own CSR in \
                   `csr_pem`. With `validate_only`, Entrust only validates the order: the answer \
                   is 200, nothing is stored and `Idempotency-Key` may be left out. Needs the \
                   operator role.",
    params(IdempotencyKey),
    request_body = CreateOrder,
    responses(
        (status = 201, description = "The order was placed.", body = Order,
            headers(("Location" = String))),
        (status = 200, description = "Entrust validated the order (`validate_only`); nothing \
                                      was stored.", body = Order),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateOrder>,
) -> Result<Response, Problem> {
    principal.require(Role::Operator)?;
    let idempotency_key = if body.validate_only && !headers.contains_key(IDEMPOTENCY_KEY) {
        String::new()
    } else {
        idempotency_key(&headers)?
    };
    let credential_id = parse_id("credential_id", &body.credential_id)?;
    let csr_pem = body.csr_pem.unwrap_or_default();
    // A supplied CSR fixes the algorithm, and order-manager takes it from there.
    let default_key_algorithm = if csr_pem.trim().is_empty() {
        DEFAULT_KEY_ALGORITHM
    } else {
        ""
    };
    let request = proto::CreateOrderRequest {
        idempotency_key,
        credential_id,
        product: body.product,
        common_name: body.common_name.unwrap_or_default(),
        dns_names: body.dns_names,
        organization: body.organization.unwrap_or_default(),
        client_id: body.client_id.unwrap_or(0),
        key_algorithm: body
            .key_algorithm
            .unwrap_or_else(|| default_key_algorithm.to_owned()),
        validity_days: body.validity_days.unwrap_or(0),
        queue_for_approval: body.queue_for_approval,
        actor: principal.token_name.clone(),
        csr_pem,
        validate_only: body.validate_only,
    };
    let order = state
        .clients
        .orders
        .clone()
        .create_order(request)
        .await
        .or_problem()?;
    if body.validate_only {
        return Ok((StatusCode::OK, Json(Order::from(order))).into_response());
    }
    let location = format!("/v1/orders/{}", order.id);
    Ok(created(location, Order::from(order)).into_response())
}

/// Reads the `Idempotency-Key` header that order creation, renewal and reissue need.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let reason = "is required: send a unique value (for example a UUID) per order, and the same \
                  value when you retry it";
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| Problem::invalid_field("Idempotency-Key", reason))?;
    let key = value
        .to_str()
        .map_err(|_| Problem::invalid_field("Idempotency-Key", "must be printable ASCII"))?
        .trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(Problem::invalid_field(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters long"),
        ));
    }
    Ok(key.to_owned())
}

/// Query of `GET /v1/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Orders per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    cursor: Option<String>,
    /// Only the orders of this credential.
    #[param(format = Uuid)]
    credential_id: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    operation_id = "listOrders",
    summary = "List orders, newest first",
    params(OrderListQuery),
    responses((status = 200, description = "One page of orders.", body = Page<Order>)),
)]
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

#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    operation_id = "getOrder",
    summary = "Get one order with its state",
    params(IdPath),
    responses((status = 200, description = "The order.", body = Order)),
)]
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

/// Body of `POST /v1/imports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartImport {
    /// Credential whose Entrust orders to import.
    #[schema(format = Uuid)]
    credential_id: String,
    /// Brings back orders deleted from Certitude that Entrust still lists.
    #[serde(default)]
    restore_deleted: bool,
}

/// An order import shown as a job resource.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJob {
    #[schema(format = Uuid)]
    id: String,
    #[schema(value_type = ImportJobKind)]
    kind: &'static str,
    #[schema(format = Uuid)]
    credential_id: String,
    #[schema(value_type = ImportState)]
    state: String,
    restore_deleted: bool,
    progress: ImportProgress,
    /// The reason the job failed, for a failed job.
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    #[schema(format = DateTime)]
    started_at: String,
    /// Absent while the job runs.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    finished_at: String,
}

/// Progress of an order import: the orders it has processed so far.
#[derive(Debug, Serialize, ToSchema)]
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
            restore_deleted: job.restore_deleted,
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

#[utoipa::path(
    post,
    path = "/v1/imports",
    tag = "imports",
    operation_id = "startOrderImport",
    summary = "Start importing a credential's Entrust orders, or join the running import",
    description = "Needs the operator role.",
    request_body = StartImport,
    responses(
        (status = 202, description = "The import job, started or joined.", body = ImportJob,
            headers(("Location" = String))),
    ),
)]
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
        .start_import(proto::StartImportRequest {
            credential_id,
            restore_deleted: body.restore_deleted,
        })
        .await
        .or_problem()?;
    let location = format!("/v1/imports/{}", job.id);
    Ok(accepted(location, ImportJob::from(job)))
}

#[utoipa::path(
    get,
    path = "/v1/imports/{id}",
    tag = "imports",
    operation_id = "getOrderImport",
    summary = "Get an order import job with its progress",
    params(IdPath),
    responses((status = 200, description = "The import job.", body = ImportJob)),
)]
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

enum_schema!(
    /// Algorithm of a new key pair.
    KeyAlgorithm = &[
        "ECDSA_P256",
        "ECDSA_P384",
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
    ]
);

enum_schema!(
    /// Certitude's state of an order.
    OrderStatus = &[
        "SUBMITTING",
        "PENDING",
        "ISSUED",
        "DECLINED",
        "SUSPENDED",
        "REVOKED",
        "EXPIRED",
        "DEACTIVATED",
        "SUPERSEDED",
        "FAILED",
        "UNKNOWN",
        "VALIDATED",
    ]
);

enum_schema!(
    /// Whether an order's certificate is in the inventory.
    OrderInventoryState = &["in_inventory", "waiting"]
);

enum_schema!(
    /// Kind of an order import job.
    ImportJobKind = &["order_import"]
);

enum_schema!(
    /// State of an order import.
    ImportState = &["running", "succeeded", "failed"]
);

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn order_json(order: proto::Order) -> Value {
        serde_json::to_value(Order::from(order)).expect("an order serializes")
    }

    #[test]
    fn waiting_order_shows_inventory_state_reason_and_message() {
        let json = order_json(proto::Order {
            inventory_state: "waiting".to_owned(),
            inventory_reason: "license_limit".to_owned(),
            inventory_message: "issued, not in inventory: license limit: raise the license"
                .to_owned(),
            ..proto::Order::default()
        });

        assert_eq!(json["inventory_state"], json!("waiting"));
        assert_eq!(json["inventory_reason"], json!("license_limit"));
        assert_eq!(
            json["inventory_message"],
            json!("issued, not in inventory: license limit: raise the license")
        );
    }

    #[test]
    fn order_in_inventory_has_no_reason_or_message() {
        let json = order_json(proto::Order {
            inventory_state: "in_inventory".to_owned(),
            ..proto::Order::default()
        });

        assert_eq!(json["inventory_state"], json!("in_inventory"));
        assert!(json.get("inventory_reason").is_none(), "{json}");
        assert!(json.get("inventory_message").is_none(), "{json}");
    }

    #[test]
    fn unreported_order_has_no_inventory_fields() {
        let json = order_json(proto::Order::default());

        assert!(json.get("inventory_state").is_none(), "{json}");
    }
}
