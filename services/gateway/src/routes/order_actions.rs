//! Routes for the administrator operations on an order (approve, decline, suspend, resume,
//! renew, reissue, revoke), its deletion and its history.
//!
//! The operations that reach Entrust need the `operator` role; deleting an order from
//! Certitude needs `admin`. The token's name is passed on as the actor that the order's history
//! records.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use certitude_proto::order::v1 as proto;
use certitude_proto::renewal::v1::GetRenewalPolicyRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::JsonBody;
use crate::openapi::{IdPath, IdempotencyKey, enum_schema};
use crate::pagination::Page;
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::credentials::created;
use crate::routes::orders::{KeyAlgorithm, Order, idempotency_key};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Maximum length of a decline reason that Entrust stores, in characters.
const DECLINE_REASON_MAX_CHARS: usize = 254;
/// CRL reasons Entrust accepts.
const REVOCATION_REASONS: [&str; 2] = ["unspecified", "keyCompromise"];

/// Body of approve, suspend and resume: `{}` acts with the order's own credential.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderAction {
    /// Administrator credential of the same Entrust account to act with, instead of the
    /// order's own.
    #[serde(default)]
    #[schema(format = Uuid)]
    admin_credential_id: Option<String>,
}

/// Body of `POST /v1/orders/{id}/decline`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    /// Shown with the declined order at Entrust.
    #[serde(default)]
    #[schema(max_length = 254)]
    reason: Option<String>,
    /// Administrator credential to act with, instead of the order's own.
    #[serde(default)]
    #[schema(format = Uuid)]
    admin_credential_id: Option<String>,
}

/// Body of `POST /v1/orders/{id}/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The CRL reason; give any other reason in `comment` with `unspecified`.
    #[schema(value_type = RevocationReason)]
    reason: String,
    /// Stored with the revocation at Entrust.
    #[serde(default)]
    comment: Option<String>,
    /// Administrator credential to act with, instead of the order's own.
    #[serde(default)]
    #[schema(format = Uuid)]
    admin_credential_id: Option<String>,
}

/// Body of `POST /v1/orders/{id}/renew`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Renew {
    /// Keep the previous key pair and CSR instead of a new key; not with `key_algorithm`.
    #[serde(default)]
    reuse_key: bool,
    /// Algorithm of the new key; the previous order's when absent.
    #[serde(default)]
    #[schema(value_type = Option<KeyAlgorithm>)]
    key_algorithm: Option<String>,
    /// Validity of the new certificate in days; the previous order's when absent.
    #[serde(default)]
    validity_days: Option<u32>,
    /// Administrator credential to act with, instead of the order's own.
    #[serde(default)]
    #[schema(format = Uuid)]
    admin_credential_id: Option<String>,
}

/// Body of `POST /v1/orders/{id}/reissue`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reissue {
    /// Algorithm of the new key; the previous order's when absent.
    #[serde(default)]
    #[schema(value_type = Option<KeyAlgorithm>)]
    key_algorithm: Option<String>,
    /// Administrator credential to act with, instead of the order's own.
    #[serde(default)]
    #[schema(format = Uuid)]
    admin_credential_id: Option<String>,
}

/// One step of an order's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    #[schema(format = DateTime)]
    at: String,
    actor: String,
    action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    from_status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    to_status: String,
    outcome: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    detail: String,
}

impl From<proto::OrderHistoryEntry> for HistoryEntry {
    fn from(entry: proto::OrderHistoryEntry) -> Self {
        Self {
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            from_status: entry.from_status,
            to_status: entry.to_status,
            outcome: entry.outcome,
            detail: entry.detail,
        }
    }
}

/// Checks the optional `admin_credential_id`; empty when absent.
fn admin_credential_id(value: Option<&str>) -> Result<String, Problem> {
    match value {
        None => Ok(String::new()),
        Some(id) => parse_id("admin_credential_id", id),
    }
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/approve",
    tag = "orders",
    operation_id = "approveOrder",
    summary = "Approve an order that waits for an Entrust administrator's approval",
    description = "Needs the operator role and an Entrust administrator credential.",
    params(IdPath),
    request_body = OrderAction,
    responses((status = 200, description = "The order afterwards.", body = Order)),
)]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OrderAction>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Operator)?;
    let request = proto::ApproveOrderRequest {
        id: parse_id("id", &id)?,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .approve_order(request)
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/decline",
    tag = "orders",
    operation_id = "declineOrder",
    summary = "Decline an order that waits for approval",
    description = "Needs the operator role and an Entrust administrator credential.",
    params(IdPath),
    request_body = Decline,
    responses((status = 200, description = "The declined order.", body = Order)),
)]
pub async fn decline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Decline>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Operator)?;
    let reason = body.reason.unwrap_or_default();
    let length = reason.trim().chars().count();
    if length > DECLINE_REASON_MAX_CHARS {
        return Err(Problem::invalid_field(
            "reason",
            format!(
                "is {length} characters long; Entrust stores at most {DECLINE_REASON_MAX_CHARS}: \
                 shorten it"
            ),
        ));
    }
    let request = proto::DeclineOrderRequest {
        id: parse_id("id", &id)?,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
        reason,
    };
    let order = state
        .clients
        .orders
        .clone()
        .decline_order(request)
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/suspend",
    tag = "orders",
    operation_id = "suspendOrder",
    summary = "Suspend an issued certificate",
    description = "Needs the operator role and an Entrust administrator credential.",
    params(IdPath),
    request_body = OrderAction,
    responses((status = 200, description = "The suspended order.", body = Order)),
)]
pub async fn suspend(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OrderAction>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Operator)?;
    let request = proto::SuspendOrderRequest {
        id: parse_id("id", &id)?,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .suspend_order(request)
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/resume",
    tag = "orders",
    operation_id = "resumeOrder",
    summary = "Resume a suspended certificate",
    description = "Needs the operator role and an Entrust administrator credential.",
    params(IdPath),
    request_body = OrderAction,
    responses((status = 200, description = "The resumed order.", body = Order)),
)]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OrderAction>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Operator)?;
    let request = proto::ResumeOrderRequest {
        id: parse_id("id", &id)?,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .resume_order(request)
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/revoke",
    tag = "orders",
    operation_id = "revokeOrder",
    summary = "Revoke a certificate",
    description = "Needs the operator role and an Entrust administrator credential.",
    params(IdPath),
    request_body = Revoke,
    responses((status = 200, description = "The revoked order.", body = Order)),
)]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Revoke>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Operator)?;
    let reason = REVOCATION_REASONS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(body.reason.trim()))
        .ok_or_else(|| {
            Problem::invalid_field(
                "reason",
                format!(
                    "{:?} is not a revocation reason Entrust accepts: use unspecified or \
                     keyCompromise, and give any other reason in comment with unspecified",
                    body.reason
                ),
            )
        })?;
    let request = proto::RevokeOrderRequest {
        id: parse_id("id", &id)?,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
        reason: reason.to_owned(),
        comment: body.comment.unwrap_or_default(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .revoke_order(request)
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/renew",
    tag = "orders",
    operation_id = "renewOrder",
    summary = "Renew a certificate as a new order",
    description = "Rejected with 422 while an enabled auto-renewal policy covers the order. \
                   Needs the operator role and an Entrust administrator credential.",
    params(IdPath, IdempotencyKey),
    request_body = Renew,
    responses(
        (status = 201, description = "The new order.", body = Order,
            headers(("Location" = String))),
    ),
)]
pub async fn renew(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Renew>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let idempotency_key = idempotency_key(&headers)?;
    if body.reuse_key && body.key_algorithm.is_some() {
        return Err(Problem::invalid_field(
            "key_algorithm",
            "cannot be set with reuse_key, which keeps the previous key and its algorithm: leave \
             one of them out",
        ));
    }
    let order_id = parse_id("id", &id)?;
    reject_if_auto_renewed(&state, &order_id).await?;
    let request = proto::RenewOrderRequest {
        id: order_id,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
        idempotency_key,
        reuse_key: body.reuse_key,
        key_algorithm: body.key_algorithm.unwrap_or_default(),
        validity_days: body.validity_days.unwrap_or(0),
        // Only renewal-scheduler names a policy: a manual renewal never bypasses one.
        renewal_policy_id: String::new(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .renew_order(request)
        .await
        .or_problem()?;
    let location = format!("/v1/orders/{}", order.id);
    Ok(created(location, Order::from(order)))
}

/// Rejects a manual renewal of an order with an enabled auto-renewal policy, read from
/// renewal-scheduler itself. order-manager rejects it too, from the policy events it consumed,
/// but a renewal sent right after the policy was set could arrive before that event.
// NOTE: a gRPC caller of RenewOrder that bypasses the gateway still relies on order-manager's
// event-fed check alone, so it can race a policy set a moment before.
async fn reject_if_auto_renewed(state: &AppState, order_id: &str) -> Result<(), Problem> {
    let request = GetRenewalPolicyRequest {
        order_id: order_id.to_owned(),
    };
    match state
        .clients
        .renewals
        .clone()
        .get_renewal_policy(request)
        .await
    {
        Ok(policy) if policy.get_ref().enabled => Err(Problem::unprocessable(format!(
            "cannot renew order {order_id} by hand: auto-renewal policy {} is active for it \
             and renews it on schedule; disable the policy first (DELETE \
             /v1/orders/{order_id}/renewal-policy) to renew it by hand",
            policy.get_ref().id
        ))),
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(status) => {
            // order-manager still checks the policies it has consumed.
            tracing::warn!(
                order.id = %order_id,
                error = %status,
                "reading the order's renewal policy failed; leaving the check to order-manager"
            );
            Ok(())
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/reissue",
    tag = "orders",
    operation_id = "reissueOrder",
    summary = "Reissue a certificate with a new key and the same expiry as a new order",
    description = "Needs the operator role and an Entrust administrator credential.",
    params(IdPath, IdempotencyKey),
    request_body = Reissue,
    responses(
        (status = 201, description = "The new order.", body = Order,
            headers(("Location" = String))),
    ),
)]
pub async fn reissue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Reissue>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Operator)?;
    let idempotency_key = idempotency_key(&headers)?;
    let request = proto::ReissueOrderRequest {
        id: parse_id("id", &id)?,
        admin_credential_id: admin_credential_id(body.admin_credential_id.as_deref())?,
        actor: principal.token_name.clone(),
        idempotency_key,
        key_algorithm: body.key_algorithm.unwrap_or_default(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .reissue_order(request)
        .await
        .or_problem()?;
    let location = format!("/v1/orders/{}", order.id);
    Ok(created(location, Order::from(order)))
}

#[utoipa::path(
    delete,
    path = "/v1/orders/{id}",
    tag = "orders",
    operation_id = "deleteOrder",
    summary = "Remove an order from Certitude only",
    description = "Entrust is not called and the certificate stays in the inventory. Needs the \
                   admin role.",
    params(IdPath),
    responses((status = 200, description = "The order as it was.", body = Order)),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Order>, Problem> {
    principal.require(Role::Admin)?;
    let request = proto::DeleteOrderRequest {
        id: parse_id("id", &id)?,
        actor: principal.token_name.clone(),
    };
    let order = state
        .clients
        .orders
        .clone()
        .delete_order(request)
        .await
        .or_problem()?;
    Ok(Json(order.into()))
}

#[utoipa::path(
    get,
    path = "/v1/orders/{id}/history",
    tag = "orders",
    operation_id = "getOrderHistory",
    summary = "List every step of an order, oldest first",
    params(IdPath),
    responses((status = 200, description = "The whole history, on one page.",
               body = Page<HistoryEntry>)),
)]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Page<HistoryEntry>>, Problem> {
    principal.require(Role::Viewer)?;
    let id = parse_id("id", &id)?;
    let response = state
        .clients
        .orders
        .clone()
        .get_order_history(proto::GetOrderHistoryRequest { id })
        .await
        .or_problem()?;
    let items = response
        .entries
        .into_iter()
        .map(HistoryEntry::from)
        .collect();
    Ok(Json(Page::new(items, String::new())))
}

enum_schema!(
    /// CRL reason that Entrust accepts.
    RevocationReason = &REVOCATION_REASONS
);
