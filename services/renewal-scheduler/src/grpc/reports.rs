//! ListRenewalAudit and GetRenewalForecast.

use certitude_proto::renewal::v1 as proto;
use time::Duration;
use tonic::Status;
use uuid::Uuid;

use super::{RenewalApi, db_status, parse_id, rfc3339};
use crate::audit_store::{self, AuditEntry, AuditFilter};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
const DEFAULT_FORECAST_LIMIT: u32 = 100;
const MAX_FORECAST_LIMIT: u32 = 1000;
const MAX_FORECAST_DAYS: u32 = 3650;
const OUTCOMES: [&str; 5] = ["succeeded", "failed", "gave_up", "rescheduled", "replaced"];

fn optional_id(field: &str, text: &str) -> Result<Option<Uuid>, Status> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(field, text).map(Some)
    }
}

fn entry(entry: AuditEntry) -> proto::RenewalAuditEntry {
    let text = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    proto::RenewalAuditEntry {
        id: entry.id.to_string(),
        attempted_at: rfc3339(entry.attempted_at),
        policy_id: entry.policy_id.to_string(),
        order_id: text(entry.order_id),
        certificate_id: entry.certificate_id.to_string(),
        new_order_id: text(entry.new_order_id),
        new_certificate_id: text(entry.new_certificate_id),
        outcome: entry.outcome,
        error: entry.error.unwrap_or_default(),
        duration_ms: u64::try_from(entry.duration_ms).unwrap_or(0),
        attempt: u32::try_from(entry.attempt).unwrap_or(0),
    }
}

#[derive(Debug, sqlx::FromRow)]
struct ForecastRow {
    certificate_id: Uuid,
    order_id: Option<String>,
    policy_id: Uuid,
    renew_at: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
    product: String,
    renewal_method: Option<String>,
}

impl RenewalApi {
    pub(super) async fn list_audit(
        &self,
        request: proto::ListRenewalAuditRequest,
    ) -> Result<proto::ListRenewalAuditResponse, Status> {
        let outcome = request.outcome.trim();
        if !outcome.is_empty() && !OUTCOMES.contains(&outcome) {
            return Err(Status::invalid_argument(format!(
                "outcome: {outcome:?} is not an outcome; use one of {}",
                OUTCOMES.join(", ")
            )));
        }
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size <= MAX_PAGE_SIZE => size,
            size => {
                return Err(Status::invalid_argument(format!(
                    "page_size: {size} is too large; use 1 to {MAX_PAGE_SIZE}, or 0 for {DEFAULT_PAGE_SIZE}"
                )));
            }
        };
        let filter = AuditFilter {
            order_id: optional_id("order_id", &request.order_id)?,
            certificate_id: optional_id("certificate_id", &request.certificate_id)?,
            policy_id: optional_id("policy_id", &request.policy_id)?,
            outcome: (!outcome.is_empty()).then(|| outcome.to_owned()),
            before_id: optional_id("page_token", &request.page_token)?,
        };
        let mut entries = audit_store::list(&self.pool, &filter, page_size + 1)
            .await
            .map_err(|e| db_status("ListRenewalAudit", e))?;
        let more = entries.len() > usize::try_from(page_size).unwrap_or(usize::MAX);
        entries.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
        let next_page_token = if more {
            entries
                .last()
                .map(|last| last.id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(proto::ListRenewalAuditResponse {
            entries: entries.into_iter().map(entry).collect(),
            next_page_token,
        })
    }

    pub(super) async fn forecast(
        &self,
        request: proto::GetRenewalForecastRequest,
    ) -> Result<proto::GetRenewalForecastResponse, Status> {
        if request.days == 0 || request.days > MAX_FORECAST_DAYS {
            return Err(Status::invalid_argument(format!(
                "days: {} is out of range; use 1 to {MAX_FORECAST_DAYS}",
                request.days
            )));
        }
        let limit = match request.limit {
            0 => DEFAULT_FORECAST_LIMIT,
            limit if limit <= MAX_FORECAST_LIMIT => limit,
            limit => {
                return Err(Status::invalid_argument(format!(
                    "limit: {limit} is too large; use 1 to {MAX_FORECAST_LIMIT}, or 0 for {DEFAULT_FORECAST_LIMIT}"
                )));
            }
        };
        let after = match request.page_token.trim() {
            "" => None,
            token => Some(ForecastPosition::decode(token).ok_or_else(|| {
                Status::invalid_argument(
                    "page_token: is not a token from a previous page: pass next_page_token \
                     unchanged",
                )
            })?),
        };
        let until = self.clock.now() + Duration::days(i64::from(request.days));
        // One row more than the page shows whether another page follows.
        let mut rows: Vec<ForecastRow> = sqlx::query_as(
            "SELECT c.certificate_id, c.order_id, p.id AS policy_id, c.renew_at, c.not_after,
                    coalesce(p.product, p.order_product) AS product, c.renewal_method
             FROM certificate_expiries c
             JOIN renewal_policies p ON p.order_id::text = c.order_id
             WHERE c.renew_at IS NOT NULL AND c.renew_at <= $1 AND p.enabled
               AND ($3::timestamptz IS NULL OR (c.renew_at, c.certificate_id) > ($3, $4))
             ORDER BY c.renew_at, c.certificate_id
             LIMIT $2",
        )
        .bind(until)
        .bind(i64::from(limit) + 1)
        .bind(after.as_ref().map(|position| position.renew_at))
        .bind(after.as_ref().map(|position| position.certificate_id))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_status("GetRenewalForecast", e))?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|last| {
                    ForecastPosition {
                        renew_at: last.renew_at,
                        certificate_id: last.certificate_id,
                    }
                    .encode()
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(proto::GetRenewalForecastResponse {
            next_page_token,
            entries: rows
                .into_iter()
                .map(|row| proto::ForecastEntry {
                    certificate_id: row.certificate_id.to_string(),
                    order_id: row.order_id.unwrap_or_default(),
                    policy_id: row.policy_id.to_string(),
                    renew_at: rfc3339(row.renew_at),
                    not_after: rfc3339(row.not_after),
                    product: row.product,
                    method: row.renewal_method.unwrap_or_else(|| "renewal".to_owned()),
                })
                .collect(),
        })
    }
}

/// The last entry of a forecast page, where the next page starts.
#[derive(Debug, PartialEq, Eq)]
struct ForecastPosition {
    renew_at: time::OffsetDateTime,
    certificate_id: Uuid,
}

impl ForecastPosition {
    /// Encodes the position as `<unix nanoseconds>.<certificate id>`.
    fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.renew_at.unix_timestamp_nanos(),
            self.certificate_id.simple()
        )
    }

    /// Decodes a token of [`ForecastPosition::encode`], returning `None` for anything else.
    fn decode(token: &str) -> Option<Self> {
        let (nanos, id) = token.split_once('.')?;
        let renew_at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?;
        Some(Self {
            renew_at,
            certificate_id: Uuid::try_parse(id).ok()?,
        })
    }
}

#[cfg(test)]
mod forecast_position_tests {
    use super::*;

    #[test]
    fn position_survives_its_token() {
        let position = ForecastPosition {
            renew_at: time::macros::datetime!(2028-02-29 23:59:59.123456 UTC),
            certificate_id: Uuid::now_v7(),
        };

        assert_eq!(ForecastPosition::decode(&position.encode()), Some(position));
    }

    #[test]
    fn foreign_token_is_rejected() {
        assert_eq!(ForecastPosition::decode("not-a-token"), None);
        assert_eq!(ForecastPosition::decode("12.not-a-uuid"), None);
    }
}
