//! Routes for automatic renewal: the renewal policy of an order, the renewal forecast and the
//! Auto-Renewal Audit, served by renewal-scheduler.

use axum::Json;
use axum::extract::{Path, State};
use certitude_proto::renewal::v1 as proto;
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

/// Days the forecast looks ahead when the request names none.
const DEFAULT_FORECAST_DAYS: u32 = 30;

/// A maintenance window in a policy body or response: the days and hours in which renewals may
/// run, in a time zone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// `MON` to `SUN`; every day when empty.
    #[serde(default)]
    #[schema(value_type = Vec<Weekday>)]
    days: Vec<String>,
    /// First hour of the window in the time zone.
    #[schema(maximum = 23)]
    start_hour: u32,
    /// Hour the window ends, after `start_hour`.
    #[schema(minimum = 1, maximum = 24)]
    end_hour: u32,
    /// IANA time zone name, such as `Europe/Berlin`; UTC when absent or empty.
    #[serde(default)]
    time_zone: String,
}

impl From<MaintenanceWindow> for proto::MaintenanceWindow {
    fn from(window: MaintenanceWindow) -> Self {
        Self {
            days: window.days,
            start_hour: window.start_hour,
            end_hour: window.end_hour,
            time_zone: window.time_zone,
        }
    }
}

impl From<proto::MaintenanceWindow> for MaintenanceWindow {
    fn from(window: proto::MaintenanceWindow) -> Self {
        Self {
            days: window.days,
            start_hour: window.start_hour,
            end_hour: window.end_hour,
            time_zone: window.time_zone,
        }
    }
}

fn enabled_by_default() -> bool {
    true
}

/// Body of `PUT /v1/orders/{id}/renewal-policy`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPolicy {
    /// `true` when absent.
    #[serde(default = "enabled_by_default")]
    #[schema(default = true)]
    enabled: bool,
    /// Renew this many days before expiry; not together with `renew_at_lifetime_percent`.
    /// With neither, the certificate renews when two thirds of its lifetime have passed.
    #[schema(minimum = 1, maximum = 3650)]
    renew_days_before_expiry: Option<u32>,
    /// Renew when this share of the lifetime has passed.
    #[schema(minimum = 1, maximum = 99)]
    renew_at_lifetime_percent: Option<u32>,
    /// Renew with a new key pair instead of the previous key and CSR.
    #[serde(default)]
    rotate_key: bool,
    /// Product of the renewal; the order's when absent.
    product: Option<String>,
    /// Validity of the renewal in days; the order's when absent.
    #[schema(minimum = 1, maximum = 3650)]
    validity_days: Option<u32>,
    /// Renewals outside the window wait for its next opening.
    maintenance_window: Option<MaintenanceWindow>,
    /// Attempts of one renewal before it is given up; 5 when absent.
    #[schema(minimum = 1, maximum = 20)]
    max_attempts: Option<u32>,
    /// Administrator credential for the renewal when the order's own credential lacks the
    /// right.
    #[schema(format = Uuid)]
    admin_credential_id: Option<String>,
}

/// An order's auto-renewal policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct Policy {
    #[schema(format = Uuid)]
    id: String,
    /// The order the policy renews; it moves to the new order after each renewal.
    #[schema(format = Uuid)]
    order_id: String,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    renew_days_before_expiry: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1, maximum = 99)]
    renew_at_lifetime_percent: Option<u32>,
    rotate_key: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    product: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    validity_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    maintenance_window: Option<MaintenanceWindow>,
    #[schema(minimum = 1)]
    max_attempts: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    admin_credential_id: String,
    /// The token name that last set the policy.
    updated_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// Orders the policy renewed so far, in its lineage.
    renewals: u32,
}

impl From<proto::RenewalPolicy> for Policy {
    fn from(policy: proto::RenewalPolicy) -> Self {
        let nonzero = |value: u32| (value != 0).then_some(value);
        Self {
            id: policy.id,
            order_id: policy.order_id,
            enabled: policy.enabled,
            renew_days_before_expiry: nonzero(policy.renew_days_before_expiry),
            renew_at_lifetime_percent: nonzero(policy.renew_at_lifetime_percent),
            rotate_key: policy.rotate_key,
            product: policy.product,
            validity_days: nonzero(policy.validity_days),
            maintenance_window: policy.maintenance_window.map(MaintenanceWindow::from),
            max_attempts: policy.max_attempts,
            admin_credential_id: policy.admin_credential_id,
            updated_by: policy.actor,
            created_at: policy.created_at,
            updated_at: policy.updated_at,
            renewals: policy.renewals,
        }
    }
}

/// `GET /v1/orders/{id}/renewal-policy`.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}/renewal-policy",
    tag = "renewals",
    operation_id = "getRenewalPolicy",
    summary = "Get an order's auto-renewal policy",
    params(IdPath),
    responses((status = 200, description = "The policy.", body = Policy)),
)]
pub async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Policy>, Problem> {
    principal.require(Role::Viewer)?;
    let order_id = parse_id("id", &id)?;
    let request = proto::GetRenewalPolicyRequest {
        order_id: order_id.clone(),
    };
    let policy = state
        .clients
        .renewals
        .clone()
        .get_renewal_policy(request)
        .await
        .or_problem();
    match policy {
        Ok(policy) => Ok(Json(policy.into())),
        Err(problem) => Err(name_unknown_order(&state, order_id, problem).await),
    }
}

/// Replaces renewal-scheduler's "no renewal policy" with order-manager's "order not found"
/// when the order does not exist, so that a mistyped id reads as one.
async fn name_unknown_order(state: &AppState, order_id: String, problem: Problem) -> Problem {
    if problem.status_code() != axum::http::StatusCode::NOT_FOUND {
        return problem;
    }
    let order = state
        .clients
        .orders
        .clone()
        .get_order(certitude_proto::order::v1::GetOrderRequest { id: order_id })
        .await
        .or_problem();
    match order {
        Err(not_found) if not_found.status_code() == axum::http::StatusCode::NOT_FOUND => not_found,
        _ => problem,
    }
}

/// `PUT /v1/orders/{id}/renewal-policy`: creates or replaces the order's policy.
#[utoipa::path(
    put,
    path = "/v1/orders/{id}/renewal-policy",
    tag = "renewals",
    operation_id = "setRenewalPolicy",
    summary = "Create or replace an order's auto-renewal policy",
    description = "While the policy is enabled, `POST /v1/orders/{id}/renew` is rejected. Needs \
                   the operator role.",
    params(IdPath),
    request_body = SetPolicy,
    responses((status = 200, description = "The policy afterwards.", body = Policy)),
)]
pub async fn set_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SetPolicy>,
) -> Result<Json<Policy>, Problem> {
    principal.require(Role::Operator)?;
    // gRPC reads 0 as "not set", so an explicit 0 is rejected here with the field's range.
    for (field, value, range) in [
        (
            "renew_days_before_expiry",
            body.renew_days_before_expiry,
            "1 to 3650",
        ),
        (
            "renew_at_lifetime_percent",
            body.renew_at_lifetime_percent,
            "1 to 99",
        ),
        ("validity_days", body.validity_days, "1 to 3650"),
        ("max_attempts", body.max_attempts, "1 to 20"),
    ] {
        if value == Some(0) {
            return Err(Problem::invalid_field(
                field,
                format!("0 is out of range; use {range}, or leave the field out for its default"),
            ));
        }
    }
    let request = proto::SetRenewalPolicyRequest {
        order_id: parse_id("id", &id)?,
        enabled: body.enabled,
        renew_days_before_expiry: body.renew_days_before_expiry.unwrap_or(0),
        renew_at_lifetime_percent: body.renew_at_lifetime_percent.unwrap_or(0),
        rotate_key: body.rotate_key,
        product: body.product.unwrap_or_default(),
        validity_days: body.validity_days.unwrap_or(0),
        maintenance_window: body.maintenance_window.map(proto::MaintenanceWindow::from),
        max_attempts: body.max_attempts.unwrap_or(0),
        admin_credential_id: body.admin_credential_id.unwrap_or_default(),
        actor: principal.token_name.clone(),
    };
    let policy = state
        .clients
        .renewals
        .clone()
        .set_renewal_policy(request)
        .await
        .or_problem()?;
    Ok(Json(policy.into()))
}

/// `DELETE /v1/orders/{id}/renewal-policy`: disables the order's policy and returns it.
#[utoipa::path(
    delete,
    path = "/v1/orders/{id}/renewal-policy",
    tag = "renewals",
    operation_id = "deleteRenewalPolicy",
    summary = "Disable an order's auto-renewal policy",
    description = "Needs the operator role.",
    params(IdPath),
    responses((status = 200, description = "The disabled policy.", body = Policy)),
)]
pub async fn delete_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Policy>, Problem> {
    principal.require(Role::Operator)?;
    let order_id = parse_id("id", &id)?;
    let request = proto::DeleteRenewalPolicyRequest {
        order_id: order_id.clone(),
        actor: principal.token_name.clone(),
    };
    let policy = state
        .clients
        .renewals
        .clone()
        .delete_renewal_policy(request)
        .await
        .or_problem();
    match policy {
        Ok(policy) => Ok(Json(policy.into())),
        Err(problem) => Err(name_unknown_order(&state, order_id, problem).await),
    }
}

/// Query of `GET /v1/renewals/forecast`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ForecastQuery {
    /// Days to look ahead, 30 by default.
    #[param(minimum = 1, maximum = 3650)]
    days: Option<u32>,
    /// Entries to return at most, 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    cursor: Option<String>,
}

/// A certificate whose automatic renewal is due within the forecast's days.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastEntry {
    #[schema(format = Uuid)]
    certificate_id: String,
    #[schema(format = Uuid)]
    order_id: String,
    #[schema(format = Uuid)]
    policy_id: String,
    #[schema(format = DateTime)]
    renew_at: String,
    #[schema(format = DateTime)]
    not_after: String,
    /// The product of the renewal: the policy's, or the order's when the policy names none.
    product: String,
    /// `replacement` when a different product replaces the order with a new order.
    #[schema(value_type = RenewalMethod)]
    method: String,
}

/// The renewals due within the next `days` days, soonest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Forecast {
    days: u32,
    items: Vec<ForecastEntry>,
    /// Cursor of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    next_cursor: Option<String>,
}

/// `GET /v1/renewals/forecast?days=30`: what renews within the next days, soonest first.
#[utoipa::path(
    get,
    path = "/v1/renewals/forecast",
    tag = "renewals",
    operation_id = "getRenewalForecast",
    summary = "List what renews within the next days, soonest first",
    params(ForecastQuery),
    responses((status = 200, description = "The forecast.", body = Forecast)),
)]
pub async fn forecast(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ForecastQuery>,
) -> Result<Json<Forecast>, Problem> {
    principal.require(Role::Viewer)?;
    // gRPC reads 0 as "not set", so an explicit 0 is rejected here with the field's range.
    if query.limit == Some(0) {
        return Err(Problem::invalid_field(
            "limit",
            "0 is out of range; use 1 to 1000, or leave it out for 100",
        ));
    }
    let days = query.days.unwrap_or(DEFAULT_FORECAST_DAYS);
    let response = state
        .clients
        .renewals
        .clone()
        .get_renewal_forecast(proto::GetRenewalForecastRequest {
            days,
            limit: query.limit.unwrap_or(0),
            page_token: PageQuery::new(None, query.cursor.clone()).page_token()?,
        })
        .await
        .or_problem()?;
    let next_cursor = Some(response.next_page_token).filter(|token| !token.is_empty());
    let items = response
        .entries
        .into_iter()
        .map(|entry| ForecastEntry {
            certificate_id: entry.certificate_id,
            order_id: entry.order_id,
            policy_id: entry.policy_id,
            renew_at: entry.renew_at,
            not_after: entry.not_after,
            product: entry.product,
            method: entry.method,
        })
        .collect();
    Ok(Json(Forecast {
        days,
        items,
        next_cursor,
    }))
}

/// Query of `GET /v1/renewals/audit`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[param(format = Uuid)]
    order_id: Option<String>,
    #[param(format = Uuid)]
    certificate_id: Option<String>,
    #[param(format = Uuid)]
    policy_id: Option<String>,
    #[param(value_type = Option<RenewalOutcome>, inline)]
    outcome: Option<String>,
    /// Entries per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    cursor: Option<String>,
}

/// One renewal attempt of the Auto-Renewal Audit.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RenewalAuditEntry)]
pub struct AuditEntry {
    #[schema(format = Uuid)]
    id: String,
    /// When the attempt started.
    #[schema(format = DateTime)]
    attempted_at: String,
    #[schema(format = Uuid)]
    policy_id: String,
    /// The renewed order's id; empty when the renewal service recorded none.
    order_id: String,
    #[schema(format = Uuid)]
    certificate_id: String,
    /// The order the attempt created; absent when it created none.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    new_order_id: String,
    /// The new order's certificate; absent while Entrust has not issued it.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    new_certificate_id: String,
    /// `failed` attempts are retried; `gave_up` marks the last failed attempt; `rescheduled`
    /// means Entrust does not renew yet; `replaced` means a new order replaced the order.
    #[schema(value_type = RenewalOutcome)]
    outcome: String,
    /// The reason the attempt did not succeed, or the scheduler's action instead.
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    duration_ms: u64,
    /// Attempt number of this renewal, from 1.
    #[schema(minimum = 1)]
    attempt: u32,
}

impl From<proto::RenewalAuditEntry> for AuditEntry {
    fn from(entry: proto::RenewalAuditEntry) -> Self {
        Self {
            id: entry.id,
            attempted_at: entry.attempted_at,
            policy_id: entry.policy_id,
            order_id: entry.order_id,
            certificate_id: entry.certificate_id,
            new_order_id: entry.new_order_id,
            new_certificate_id: entry.new_certificate_id,
            outcome: entry.outcome,
            error: entry.error,
            duration_ms: entry.duration_ms,
            attempt: entry.attempt,
        }
    }
}

fn optional_id(field: &str, value: Option<String>) -> Result<String, Problem> {
    value.map_or(Ok(String::new()), |value| parse_id(field, &value))
}

/// `GET /v1/renewals/audit`: one page of renewal attempts, newest first.
#[utoipa::path(
    get,
    path = "/v1/renewals/audit",
    tag = "renewals",
    operation_id = "listRenewalAudit",
    summary = "List the Auto-Renewal Audit, newest first",
    params(AuditQuery),
    responses((status = 200, description = "One page of renewal attempts.",
               body = Page<AuditEntry>)),
)]
pub async fn audit(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, Problem> {
    principal.require(Role::Viewer)?;
    let page = PageQuery::new(query.limit, query.cursor);
    let request = proto::ListRenewalAuditRequest {
        order_id: optional_id("order_id", query.order_id)?,
        certificate_id: optional_id("certificate_id", query.certificate_id)?,
        policy_id: optional_id("policy_id", query.policy_id)?,
        outcome: query.outcome.unwrap_or_default(),
        page_size: page.limit()?,
        page_token: page.page_token()?,
    };
    let response = state
        .clients
        .renewals
        .clone()
        .list_renewal_audit(request)
        .await
        .or_problem()?;
    let items = response.entries.into_iter().map(AuditEntry::from).collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

enum_schema!(
    /// Day of the week.
    Weekday = &["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
);

enum_schema!(
    /// Kind of renewal: Entrust's renewal of the order, or a new order that replaces it.
    RenewalMethod = &["renewal", "replacement"]
);

enum_schema!(
    /// Outcome of a renewal attempt.
    RenewalOutcome = &["succeeded", "failed", "gave_up", "rescheduled", "replaced"]
);
