//! SetRenewalPolicy, GetRenewalPolicy and DeleteRenewalPolicy: checking a policy, storing it
//! with its RenewalPolicyChanged event, and planning the order's renewal in one transaction.

use certitude_platform::outbox::NewEvent;
use certitude_proto::events::v1::RenewalPolicyChanged;
use certitude_proto::order::v1::{GetOrderRequest, Order};
use certitude_proto::renewal::v1 as proto;
use tonic::{Code, Status};
use uuid::Uuid;

use super::{RenewalApi, db_status, parse_id, rfc3339};
use crate::plan::time_zone;
use crate::policy::{
    DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT, MaintenanceWindow, Policy, RenewalTiming,
    parse_weekday, weekday_name,
};
use crate::{policy_store, schedule_store};

/// Maximum validity a policy may request, in days. Entrust applies its own, lower maximum.
const MAX_VALIDITY_DAYS: u32 = 3650;

/// Maximum length of a product code, in characters.
const MAX_PRODUCT_LENGTH: usize = 64;

/// Maximum length of a time zone name, in characters; IANA names are at most about 30.
const MAX_TIME_ZONE_LENGTH: usize = 64;

fn invalid(field: &str, reason: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {reason}"))
}

/// Returns the first characters of `text` for an error message, so that a long or hostile
/// value does not make the message (a gRPC header) too large.
fn excerpt(text: &str) -> String {
    const SHOWN: usize = 40;
    let shown: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    }
}

/// Checks an Entrust product code: letters, digits and `_`, upper-cased, such as `STANDARD_SSL`.
fn product(value: &str) -> Result<Option<String>, Status> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let valid = value.len() <= MAX_PRODUCT_LENGTH
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(invalid(
            "product",
            format!(
                "{} is not a product code; use the code of one of the credential's products, \
                 such as STANDARD_SSL (letters, digits and _, at most {MAX_PRODUCT_LENGTH})",
                excerpt(value)
            ),
        ));
    }
    Ok(Some(value.to_ascii_uppercase()))
}

/// Checks the id of the administrator credential that renews, when one is given.
fn admin_credential_id(value: &str) -> Result<Option<String>, Status> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value).map_err(|_| {
        invalid(
            "admin_credential_id",
            format!(
                "{} is not a credential id; use the id (a UUID) of an administrator credential, \
                 or leave it empty to renew with the order's credential",
                excerpt(value)
            ),
        )
    })?;
    Ok(Some(value.to_owned()))
}

/// Rejects an order that auto-renewal cannot renew: only an issued order has a certificate
/// that a renewal replaces on schedule.
fn renewable(order: &Order) -> Result<(), Status> {
    if order.status == "ISSUED" {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "order {} is {}: an auto-renewal policy applies to an ISSUED order; renew an expired \
         order by hand, or set the policy on the order that replaced this one",
        order.id, order.status
    )))
}

fn timing(request: &proto::SetRenewalPolicyRequest) -> Result<RenewalTiming, Status> {
    match (
        request.renew_days_before_expiry,
        request.renew_at_lifetime_percent,
    ) {
        (0, 0) => Ok(RenewalTiming::TwoThirdsOfLifetime),
        (days, 0) if days <= MAX_VALIDITY_DAYS => Ok(RenewalTiming::DaysBeforeExpiry(days)),
        (days, 0) => Err(invalid(
            "renew_days_before_expiry",
            format!("{days} is too long; use 1 to {MAX_VALIDITY_DAYS}"),
        )),
        (0, percent) if (1..=99).contains(&percent) => Ok(RenewalTiming::LifetimePercent(percent)),
        (0, percent) => Err(invalid(
            "renew_at_lifetime_percent",
            format!("{percent} is out of range; use 1 to 99"),
        )),
        _ => Err(invalid(
            "renew_at_lifetime_percent",
            "cannot be set with renew_days_before_expiry; set one of them",
        )),
    }
}

fn window(window: Option<&proto::MaintenanceWindow>) -> Result<Option<MaintenanceWindow>, Status> {
    let Some(window) = window else {
        return Ok(None);
    };
    let mut days = Vec::new();
    for name in &window.days {
        let day = parse_weekday(name).ok_or_else(|| {
            invalid(
                "maintenance_window.days",
                format!(
                    "{} is not a day; use MON, TUE, WED, THU, FRI, SAT or SUN",
                    excerpt(name)
                ),
            )
        })?;
        if !days.contains(&day) {
            days.push(day);
        }
    }
    if window.start_hour > 23 {
        return Err(invalid(
            "maintenance_window.start_hour",
            format!("{} is not an hour; use 0 to 23", window.start_hour),
        ));
    }
    if window.end_hour <= window.start_hour || window.end_hour > 24 {
        return Err(invalid(
            "maintenance_window.end_hour",
            format!(
                "{} must be after start_hour {} and at most 24",
                window.end_hour, window.start_hour
            ),
        ));
    }
    let name = window.time_zone.trim();
    let zone = (name.chars().count() <= MAX_TIME_ZONE_LENGTH && !name.contains('\0'))
        .then(|| time_zone(name))
        .flatten()
        .ok_or_else(|| {
            invalid(
                "maintenance_window.time_zone",
                format!(
                    "{} is not an IANA time zone; use a name such as Europe/Berlin",
                    excerpt(name)
                ),
            )
        })?;
    Ok(Some(MaintenanceWindow {
        days,
        start_hour: u8::try_from(window.start_hour).unwrap_or(0),
        end_hour: u8::try_from(window.end_hour).unwrap_or(24),
        time_zone_name: if name.is_empty() {
            "UTC".to_owned()
        } else {
            name.to_owned()
        },
        time_zone: zone,
    }))
}

fn max_attempts(value: u32) -> Result<u32, Status> {
    match value {
        0 => Ok(DEFAULT_MAX_ATTEMPTS),
        attempts if attempts <= MAX_ATTEMPTS_LIMIT => Ok(attempts),
        attempts => Err(invalid(
            "max_attempts",
            format!(
                "{attempts} is too many; use 1 to {MAX_ATTEMPTS_LIMIT}, or 0 for {DEFAULT_MAX_ATTEMPTS}"
            ),
        )),
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn actor(text: &str) -> String {
    non_empty(text).unwrap_or_else(|| "api".to_owned())
}

/// Converts a stored policy to its gRPC form.
pub(super) fn to_proto(policy: &Policy) -> proto::RenewalPolicy {
    let (days, percent) = match policy.timing {
        RenewalTiming::DaysBeforeExpiry(days) => (days, 0),
        RenewalTiming::LifetimePercent(percent) => (0, percent),
        RenewalTiming::TwoThirdsOfLifetime => (0, 0),
    };
    proto::RenewalPolicy {
        id: policy.id.to_string(),
        order_id: policy.order_id.to_string(),
        enabled: policy.enabled,
        renew_days_before_expiry: days,
        renew_at_lifetime_percent: percent,
        rotate_key: policy.rotate_key,
        product: policy.product.clone().unwrap_or_default(),
        validity_days: policy.validity_days.unwrap_or(0),
        maintenance_window: policy
            .window
            .as_ref()
            .map(|window| proto::MaintenanceWindow {
                days: window
                    .days
                    .iter()
                    .map(|day| weekday_name(*day).to_owned())
                    .collect(),
                start_hour: u32::from(window.start_hour),
                end_hour: u32::from(window.end_hour),
                time_zone: window.time_zone_name.clone(),
            }),
        max_attempts: policy.max_attempts,
        admin_credential_id: policy.admin_credential_id.clone().unwrap_or_default(),
        actor: policy.actor.clone(),
        created_at: rfc3339(policy.created_at),
        updated_at: rfc3339(policy.updated_at),
        renewals: policy.renewals,
    }
}

impl RenewalApi {
    /// Reads the order from order-manager; NOT_FOUND passes through.
    async fn order(&self, order_id: Uuid) -> Result<Order, Status> {
        let request = GetOrderRequest {
            id: order_id.to_string(),
        };
        match self.orders.clone().get_order(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if status.code() == Code::NotFound => Err(Status::not_found(format!(
                "order {order_id} not found in order-manager"
            ))),
            Err(status) => {
                tracing::warn!(order.id = %order_id, error = %status, "GetOrder failed");
                Err(Status::unavailable(
                    "order-manager could not be reached to read the order; retry later",
                ))
            }
        }
    }

    pub(super) async fn set_policy(
        &self,
        request: proto::SetRenewalPolicyRequest,
    ) -> Result<proto::RenewalPolicy, Status> {
        let order_id = parse_id("order_id", &request.order_id)?;
        let timing = timing(&request)?;
        let window = window(request.maintenance_window.as_ref())?;
        let max_attempts = max_attempts(request.max_attempts)?;
        if request.validity_days > MAX_VALIDITY_DAYS {
            return Err(invalid(
                "validity_days",
                format!(
                    "{} is too long; use 1 to {MAX_VALIDITY_DAYS}, or 0 to keep the order's",
                    request.validity_days
                ),
            ));
        }
        let product = product(&request.product)?;
        let admin_credential_id = admin_credential_id(&request.admin_credential_id)?;
        let order = self.order(order_id).await?;
        if request.enabled {
            renewable(&order)?;
        }
        let now = self.clock.now();
        let candidate = Policy {
            id: Uuid::now_v7(),
            order_id,
            credential_id: order.credential_id.clone(),
            order_product: order.product.clone(),
            enabled: request.enabled,
            timing,
            rotate_key: request.rotate_key,
            product,
            validity_days: (request.validity_days != 0).then_some(request.validity_days),
            window,
            max_attempts,
            admin_credential_id,
            actor: actor(&request.actor),
            renewals: 0,
            created_at: now,
            updated_at: now,
        };

        let call = "SetRenewalPolicy";
        let mut tx = self.pool.begin().await.map_err(|e| db_status(call, e))?;
        schedule_store::lock_order(&mut tx, &order.id)
            .await
            .map_err(|e| db_status(call, e))?;
        let stored = policy_store::upsert(&mut *tx, &candidate)
            .await
            .map_err(|e| db_status(call, e))?;
        self.announce(&mut tx, &stored, call).await?;
        schedule_store::plan_order(&mut tx, &order.id, Some(&stored), now, self.plan)
            .await
            .map_err(|e| db_status(call, e))?;
        tx.commit().await.map_err(|e| db_status(call, e))?;
        tracing::info!(
            renewal_policy.id = %stored.id,
            order.id = %order_id,
            renewal_policy.enabled = stored.enabled,
            "renewal policy set"
        );
        Ok(to_proto(&stored))
    }

    async fn announce(
        &self,
        conn: &mut sqlx::PgConnection,
        policy: &Policy,
        call: &str,
    ) -> Result<(), Status> {
        let changed = RenewalPolicyChanged {
            policy_id: policy.id.to_string(),
            order_id: policy.order_id.to_string(),
            previous_order_id: String::new(),
            enabled: policy.enabled,
            actor: policy.actor.clone(),
        };
        self.outbox
            .enqueue(conn, NewEvent::new(policy.id.to_string(), &changed))
            .await
            .map_err(|error| {
                super::log_failure(call, &error);
                Status::internal("internal error")
            })?;
        Ok(())
    }

    pub(super) async fn get_policy(
        &self,
        request: proto::GetRenewalPolicyRequest,
    ) -> Result<proto::RenewalPolicy, Status> {
        let order_id = parse_id("order_id", &request.order_id)?;
        let policy = policy_store::by_order(&self.pool, order_id)
            .await
            .map_err(|e| db_status("GetRenewalPolicy", e))?
            .ok_or_else(|| no_policy(order_id))?;
        Ok(to_proto(&policy))
    }

    pub(super) async fn disable_policy(
        &self,
        request: proto::DeleteRenewalPolicyRequest,
    ) -> Result<proto::RenewalPolicy, Status> {
        let order_id = parse_id("order_id", &request.order_id)?;
        let call = "DeleteRenewalPolicy";
        let now = self.clock.now();
        let order_text = order_id.to_string();
        let mut tx = self.pool.begin().await.map_err(|e| db_status(call, e))?;
        schedule_store::lock_order(&mut tx, &order_text)
            .await
            .map_err(|e| db_status(call, e))?;
        let policy = policy_store::disable(&mut *tx, order_id, &actor(&request.actor), now)
            .await
            .map_err(|e| db_status(call, e))?
            .ok_or_else(|| no_policy(order_id))?;
        self.announce(&mut tx, &policy, call).await?;
        schedule_store::plan_order(&mut tx, &order_text, None, now, self.plan)
            .await
            .map_err(|e| db_status(call, e))?;
        tx.commit().await.map_err(|e| db_status(call, e))?;
        tracing::info!(renewal_policy.id = %policy.id, order.id = %order_id, "renewal policy disabled");
        Ok(to_proto(&policy))
    }
}

fn no_policy(order_id: Uuid) -> Status {
    Status::not_found(format!("order {order_id} has no renewal policy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_timings_are_rejected() {
        let request = proto::SetRenewalPolicyRequest {
            renew_days_before_expiry: 30,
            renew_at_lifetime_percent: 50,
            ..proto::SetRenewalPolicyRequest::default()
        };

        let status = timing(&request).expect_err("two timings");

        assert!(
            status.message().starts_with("renew_at_lifetime_percent: "),
            "{status}"
        );
    }

    #[test]
    fn no_timing_is_two_thirds() {
        let request = proto::SetRenewalPolicyRequest::default();

        assert_eq!(
            timing(&request).expect("valid"),
            RenewalTiming::TwoThirdsOfLifetime
        );
    }

    #[test]
    fn unknown_zone_is_rejected_by_field() {
        let request = proto::MaintenanceWindow {
            start_hour: 1,
            end_hour: 4,
            time_zone: "Europe/Atlantis".to_owned(),
            ..proto::MaintenanceWindow::default()
        };

        let status = window(Some(&request)).expect_err("unknown zone");

        assert!(
            status
                .message()
                .starts_with("maintenance_window.time_zone: "),
            "{status}"
        );
    }

    #[test]
    fn empty_window_hours_are_rejected() {
        let request = proto::MaintenanceWindow {
            start_hour: 5,
            end_hour: 5,
            ..proto::MaintenanceWindow::default()
        };

        let status = window(Some(&request)).expect_err("empty window");

        assert!(
            status
                .message()
                .starts_with("maintenance_window.end_hour: "),
            "{status}"
        );
    }

    #[test]
    fn too_many_attempts_are_rejected() {
        assert!(max_attempts(21).is_err());
        assert_eq!(max_attempts(0).expect("default"), DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn product_is_upper_cased_code() {
        assert_eq!(
            product(" standard_ssl ").expect("valid"),
            Some("STANDARD_SSL".into())
        );
        assert_eq!(product("").expect("empty keeps the order's"), None);
        for value in [
            "STANDARD_SSL\0",
            "STANDARD SSL",
            "SSL\u{202e}",
            &"X".repeat(65),
        ] {
            let error = product(value).expect_err("not a product code");
            assert!(
                error.message().starts_with("product: "),
                "{}",
                error.message()
            );
            assert!(error.message().len() < 300, "{}", error.message());
        }
    }

    #[test]
    fn admin_credential_must_be_uuid() {
        let id = "01a24389-3838-7081-9206-362c70e7252b";
        assert_eq!(
            admin_credential_id(id).expect("a UUID"),
            Some(id.to_owned())
        );
        assert_eq!(admin_credential_id(" ").expect("empty"), None);
        let error = admin_credential_id("bogus\0").expect_err("not a UUID");
        assert!(error.message().starts_with("admin_credential_id: "));
    }

    #[test]
    fn long_time_zone_is_rejected_briefly() {
        let window = proto::MaintenanceWindow {
            days: vec!["SAT".to_owned()],
            start_hour: 1,
            end_hour: 5,
            time_zone: "Z".repeat(20_000),
        };

        let error = super::window(Some(&window)).expect_err("not a zone");

        assert!(
            error
                .message()
                .starts_with("maintenance_window.time_zone: ")
        );
        assert!(error.message().len() < 300, "{}", error.message().len());
    }
}
