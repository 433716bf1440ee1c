//! The `renewal_policies` table: one policy per order.

use jiff::civil::Weekday;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::plan::time_zone;
use crate::policy::{MaintenanceWindow, Policy, RenewalTiming};

const COLUMNS: &str = "id, order_id, credential_id, order_product, enabled, \
    renew_days_before_expiry, renew_at_lifetime_percent, rotate_key, product, validity_days, \
    window_days, window_start_hour, window_end_hour, window_time_zone, max_attempts, \
    admin_credential_id, actor, renewals, created_at, updated_at";

#[derive(Debug, sqlx::FromRow)]
struct PolicyRow {
    id: Uuid,
    order_id: Uuid,
    credential_id: String,
    order_product: String,
    enabled: bool,
    renew_days_before_expiry: Option<i32>,
    renew_at_lifetime_percent: Option<i32>,
    rotate_key: bool,
    product: Option<String>,
    validity_days: Option<i32>,
    window_days: Option<Vec<i16>>,
    window_start_hour: Option<i16>,
    window_end_hour: Option<i16>,
    window_time_zone: Option<String>,
    max_attempts: i32,
    admin_credential_id: Option<String>,
    actor: String,
    renewals: i32,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

fn to_u32(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn weekday_from_iso(day: i16) -> Option<Weekday> {
    Weekday::from_monday_one_offset(i8::try_from(day).ok()?).ok()
}

impl From<PolicyRow> for Policy {
    fn from(row: PolicyRow) -> Self {
        let timing = match (row.renew_days_before_expiry, row.renew_at_lifetime_percent) {
            (Some(days), _) => RenewalTiming::DaysBeforeExpiry(to_u32(days)),
            (None, Some(percent)) => RenewalTiming::LifetimePercent(to_u32(percent)),
            (None, None) => RenewalTiming::TwoThirdsOfLifetime,
        };
        let window = match (row.window_start_hour, row.window_end_hour) {
            (Some(start), Some(end)) => {
                let name = row.window_time_zone.unwrap_or_default();
                // The zone was checked when the policy was set; a zone removed from a later
                // database falls back to UTC.
                let zone = time_zone(&name).unwrap_or(jiff::tz::TimeZone::UTC);
                Some(MaintenanceWindow {
                    days: row
                        .window_days
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(weekday_from_iso)
                        .collect(),
                    start_hour: u8::try_from(start).unwrap_or(0),
                    end_hour: u8::try_from(end).unwrap_or(24),
                    time_zone_name: name,
                    time_zone: zone,
                })
            }
            _ => None,
        };
        Policy {
            id: row.id,
            order_id: row.order_id,
            credential_id: row.credential_id,
            order_product: row.order_product,
            enabled: row.enabled,
            timing,
            rotate_key: row.rotate_key,
            product: row.product,
            validity_days: row.validity_days.map(to_u32),
            window,
            max_attempts: to_u32(row.max_attempts),
            admin_credential_id: row.admin_credential_id,
            actor: row.actor,
            renewals: to_u32(row.renewals),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Returns the policy of `order_id`, if any.
pub async fn by_order(
    executor: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<Option<Policy>, sqlx::Error> {
    let row: Option<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM renewal_policies WHERE order_id = $1"
    )))
    .bind(order_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(Policy::from))
}

/// Returns which orders of `order_ids` have a policy.
pub async fn orders_with_policies(
    executor: impl PgExecutor<'_>,
    order_ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT order_id FROM renewal_policies WHERE order_id = ANY($1)")
        .bind(order_ids)
        .fetch_all(executor)
        .await
}

/// Returns the policy `id`, if any.
pub async fn by_id(executor: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Policy>, sqlx::Error> {
    let row: Option<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM renewal_policies WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(Policy::from))
}

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Inserts `policy`, or replaces the settings of the order's policy and keeps its id, creation
/// time and renewal count. Returns the stored policy.
pub async fn upsert(executor: impl PgExecutor<'_>, policy: &Policy) -> Result<Policy, sqlx::Error> {
    let (days, percent) = match policy.timing {
        RenewalTiming::DaysBeforeExpiry(days) => (Some(to_i32(days)), None),
        RenewalTiming::LifetimePercent(percent) => (None, Some(to_i32(percent))),
        RenewalTiming::TwoThirdsOfLifetime => (None, None),
    };
    let window = policy.window.as_ref();
    let window_days: Option<Vec<i16>> = window.map(|window| {
        window
            .days
            .iter()
            .map(|day| i16::from(day.to_monday_one_offset()))
            .collect()
    });
    let row: PolicyRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO renewal_policies ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0,
                 $18, $18)
         ON CONFLICT (order_id) DO UPDATE SET
             credential_id = EXCLUDED.credential_id, order_product = EXCLUDED.order_product,
             enabled = EXCLUDED.enabled,
             renew_days_before_expiry = EXCLUDED.renew_days_before_expiry,
             renew_at_lifetime_percent = EXCLUDED.renew_at_lifetime_percent,
             rotate_key = EXCLUDED.rotate_key, product = EXCLUDED.product,
             validity_days = EXCLUDED.validity_days, window_days = EXCLUDED.window_days,
             window_start_hour = EXCLUDED.window_start_hour,
             window_end_hour = EXCLUDED.window_end_hour,
             window_time_zone = EXCLUDED.window_time_zone,
             max_attempts = EXCLUDED.max_attempts,
             admin_credential_id = EXCLUDED.admin_credential_id, actor = EXCLUDED.actor,
             updated_at = EXCLUDED.updated_at
         RETURNING {COLUMNS}"
    )))
    .bind(policy.id)
    .bind(policy.order_id)
    .bind(&policy.credential_id)
    .bind(&policy.order_product)
    .bind(policy.enabled)
    .bind(days)
    .bind(percent)
    .bind(policy.rotate_key)
    .bind(&policy.product)
    .bind(policy.validity_days.map(to_i32))
    .bind(window_days)
    .bind(window.map(|window| i16::from(window.start_hour)))
    .bind(window.map(|window| i16::from(window.end_hour)))
    .bind(window.map(|window| window.time_zone_name.clone()))
    .bind(to_i32(policy.max_attempts))
    .bind(&policy.admin_credential_id)
    .bind(&policy.actor)
    .bind(policy.updated_at)
    .fetch_one(executor)
    .await?;
    Ok(row.into())
}

/// Disables the policy of `order_id` and returns it, or `None` when the order has none.
pub async fn disable(
    executor: impl PgExecutor<'_>,
    order_id: Uuid,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Option<Policy>, sqlx::Error> {
    let row: Option<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE renewal_policies SET enabled = false, actor = $2, updated_at = $3
         WHERE order_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(order_id)
    .bind(actor)
    .bind(now)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(Policy::from))
}

/// Moves policy `id` to `new_order_id`, whose product is `new_product`, and counts the
/// renewal. Returns the moved policy.
pub async fn move_to_order(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    new_order_id: Uuid,
    new_product: &str,
    now: OffsetDateTime,
) -> Result<Policy, sqlx::Error> {
    let row: PolicyRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE renewal_policies
         SET order_id = $2, order_product = $3, renewals = renewals + 1, updated_at = $4
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(new_order_id)
    .bind(new_product)
    .bind(now)
    .fetch_one(executor)
    .await?;
    Ok(row.into())
}
