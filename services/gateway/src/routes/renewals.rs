//! Routes for automatic renewal: the renewal policy of an order, the renewal forecast and the
//! Auto-Renewal Audit, served by renewal-scheduler.

use axum::Json;
use axum::extract::{Path, State};
use certitude_proto::renewal::v1 as proto;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Days the forecast looks ahead when the request names none.
const DEFAULT_FORECAST_DAYS: u32 = 30;

/// A maintenance window in a policy body or response.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// `MON` to `SUN`; every day when empty.
    #[serde(default)]
    days: Vec<String>,
    start_hour: u32,
    end_hour: u32,
    /// IANA time zone; UTC when absent.
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPolicy {
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    renew_days_before_expiry: Option<u32>,
    renew_at_lifetime_percent: Option<u32>,
    #[serde(default)]
    rotate_key: bool,
    product: Option<String>,
    validity_days: Option<u32>,
    maintenance_window: Option<MaintenanceWindow>,
    max_attempts: Option<u32>,
    admin_credential_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Policy {
    id: String,
    order_id: String,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    renew_days_before_expiry: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    renew_at_lifetime_percent: Option<u32>,
    rotate_key: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    product: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    validity_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintenance_window: Option<MaintenanceWindow>,
    max_attempts: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    admin_credential_id: String,
    updated_by: String,
    created_at: String,
    updated_at: String,
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
pub async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Policy>, Problem> {
    principal.require(Role::Viewer)?;
    let request = proto::GetRenewalPolicyRequest {
        order_id: parse_id("id", &id)?,
    };
    let policy = state
        .clients
        .renewals
        .clone()
        .get_renewal_policy(request)
        .await
        .or_problem()?;
    Ok(Json(policy.into()))
}

/// `PUT /v1/orders/{id}/renewal-policy`: creates or replaces the order's policy.
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
pub async fn delete_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Policy>, Problem> {
    principal.require(Role::Operator)?;
    let request = proto::DeleteRenewalPolicyRequest {
        order_id: parse_id("id", &id)?,
        actor: principal.token_name.clone(),
    };
    let policy = state
        .clients
        .renewals
        .clone()
        .delete_renewal_policy(request)
        .await
        .or_problem()?;
    Ok(Json(policy.into()))
}

/// Query of `GET /v1/renewals/forecast`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastQuery {
    days: Option<u32>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct ForecastEntry {
    certificate_id: String,
    order_id: String,
    policy_id: String,
    renew_at: String,
    not_after: String,
    product: String,
    method: String,
}

#[derive(Debug, Serialize)]
pub struct Forecast {
    days: u32,
    items: Vec<ForecastEntry>,
}

/// `GET /v1/renewals/forecast?days=30`: what renews within the next days, soonest first.
pub async fn forecast(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ForecastQuery>,
) -> Result<Json<Forecast>, Problem> {
    principal.require(Role::Viewer)?;
    let days = query.days.unwrap_or(DEFAULT_FORECAST_DAYS);
    let response = state
        .clients
        .renewals
        .clone()
        .get_renewal_forecast(proto::GetRenewalForecastRequest {
            days,
            limit: query.limit.unwrap_or(0),
        })
        .await
        .or_problem()?;
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
    Ok(Json(Forecast { days, items }))
}

/// Query of `GET /v1/renewals/audit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    order_id: Option<String>,
    certificate_id: Option<String>,
    policy_id: Option<String>,
    outcome: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditEntry {
    id: String,
    attempted_at: String,
    policy_id: String,
    order_id: String,
    certificate_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    new_order_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    new_certificate_id: String,
    outcome: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    duration_ms: u64,
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
