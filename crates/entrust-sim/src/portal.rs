//! Changes made outside the API, as an Entrust administrator or Entrust's own staff would make
//! them in the portal: deciding on orders, suspending and revoking certificates, and verifying
//! domains and organizations. The control API and [`crate::RunningSimulator`] call these.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::ApiError;
use crate::model::{CertificateStatus, DomainStatus, VerificationMethod, VerificationStatus};
use crate::ordering::{CrlReason, IssueContext, decline_order, revoke_order};
use crate::state::{SimState, whole_seconds};

/// Changes to a domain; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainUpdate {
    /// New verification status, such as APPROVED, DECLINED or EXPIRED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_status: Option<DomainStatus>,
    /// New verification method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// Whether OV certificates may use the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ov_eligible: Option<bool>,
    /// Whether EV certificates may use the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev_eligible: Option<bool>,
    /// OV expiry in days from the simulator's clock (negative: in the past).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ov_expires_in_days: Option<i64>,
    /// EV expiry in days from the simulator's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev_expires_in_days: Option<i64>,
    /// OV expiry as an instant; not together with `ov_expires_in_days`.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ov_expiry: Option<OffsetDateTime>,
    /// EV expiry as an instant; not together with `ev_expires_in_days`.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ev_expiry: Option<OffsetDateTime>,
}

/// A new verification status for an organization of a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationUpdate {
    /// The owning client (1 when absent).
    #[serde(default = "primary_client")]
    pub client_id: i64,
    /// The organization's name (any case).
    pub name: String,
    /// The new status.
    pub verification_status: VerificationStatus,
}

fn primary_client() -> i64 {
    1
}

/// Declines a PENDING order, as an administrator would in the portal.
pub fn decline(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    reason: Option<String>,
) -> Result<(), ApiError> {
    decline_order(state, context, tracking_id, reason)
}

/// Suspends a READY or ACTIVE order.
pub fn suspend(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
) -> Result<(), ApiError> {
    let order = state.order_mut(tracking_id)?;
    let status = order.status_at(context.now);
    if !matches!(status, CertificateStatus::Active | CertificateStatus::Ready) {
        return Err(ApiError::invalid_request(format!(
            "Cannot suspend certificate {tracking_id}: its status is {status}, and only READY \
             or ACTIVE certificates can be suspended."
        )));
    }
    order.status = CertificateStatus::Suspended;
    Ok(())
}

/// Revokes a certificate with any CRL reason, named or as an RFC 5280 code.
pub fn revoke(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    reason: Option<&serde_json::Value>,
    comment: Option<String>,
) -> Result<(), ApiError> {
    let reason = match reason {
        Some(value) => CrlReason::read(value, true)?,
        None => CrlReason::Unspecified,
    };
    revoke_order(state, context, tracking_id, reason, comment)
}

/// Applies `update` to domain `domain_name` of client `client_id`.
pub fn update_domain(
    state: &mut SimState,
    now: OffsetDateTime,
    client_id: i64,
    domain_name: &str,
    update: &DomainUpdate,
) -> Result<(), ApiError> {
    let ov_expiry = expiry(now, update.ov_expiry, update.ov_expires_in_days, "ov")?;
    let ev_expiry = expiry(now, update.ev_expiry, update.ev_expires_in_days, "ev")?;
    state.known_client(client_id)?;
    let name = domain_name.trim().to_ascii_lowercase();
    let domain = state.domains.get_mut(client_id, &name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "Domain {name} of client {client_id} was not found."
        ))
    })?;
    if let Some(status) = update.verification_status {
        domain.verification_status = status;
    }
    if let Some(method) = update.verification_method {
        domain.verification_method = method;
    }
    if let Some(eligible) = update.ov_eligible {
        domain.ov_eligible = eligible;
    }
    if let Some(eligible) = update.ev_eligible {
        domain.ev_eligible = eligible;
    }
    if ov_expiry.is_some() {
        domain.ov_expiry = ov_expiry;
    }
    if ev_expiry.is_some() {
        domain.ev_expiry = ev_expiry;
    }
    Ok(())
}

fn expiry(
    now: OffsetDateTime,
    instant: Option<OffsetDateTime>,
    days: Option<i64>,
    kind: &str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    match (instant, days) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            &format!("{kind}Expiry"),
            format!("Give {kind}Expiry or {kind}ExpiresInDays, not both."),
        )),
        (Some(instant), None) => Ok(Some(whole_seconds(instant))),
        (None, Some(days)) => Ok(Some(whole_seconds(now + Duration::days(days)))),
        (None, None) => Ok(None),
    }
}

/// Sets the verification status of an organization.
pub fn update_organization(
    state: &mut SimState,
    update: &OrganizationUpdate,
) -> Result<(), ApiError> {
    state.known_client(update.client_id)?;
    let organization = state
        .organizations
        .iter_mut()
        .find(|org| {
            org.client_id == update.client_id && org.name.eq_ignore_ascii_case(&update.name)
        })
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "Organization {:?} of client {} was not found.",
                update.name, update.client_id
            ))
        })?;
    organization.verification_status = update.verification_status;
    Ok(())
}
