//! Expiry warnings: CertificateExpiring once per threshold for every certificate, renewed
//! automatically or not, until a successor replaced it, it was revoked or it expired.
//!
//! Each row keeps the smallest threshold announced (`warned_days`) and when the next one is
//! due (`next_warning_at`, indexed), so a scan reads only the due rows. A scan claims them
//! with `FOR UPDATE SKIP LOCKED` and writes the events to the outbox in the same short
//! transaction; it calls no other service.

use certitude_platform::events::timestamp;
use certitude_platform::outbox::{NewEvent, Outbox};
use certitude_proto::events::v1::CertificateExpiring;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Rows handled per warning scan.
const WARNING_BATCH: i64 = 500;

/// Returns when the first warning of a certificate expiring at `not_after` is due: when the
/// largest threshold is reached. `None` without thresholds, and for a certificate that has
/// expired by `now`, which gets no warning, so no scan has to visit its row.
pub fn first_warning_at(
    not_after: OffsetDateTime,
    thresholds: &[u32],
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    if now >= not_after {
        return None;
    }
    let largest = thresholds.iter().max()?;
    Some(not_after - Duration::days(i64::from(*largest)))
}

/// The warning step of a due row: the threshold to announce, if any, and when the next one is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarningStep {
    pub announce: Option<u32>,
    pub next_warning_at: Option<OffsetDateTime>,
}

/// Decides the warning of a certificate expiring at `not_after` at `now`, with thresholds in
/// days, largest first, after the thresholds down to `warned_days` were announced. When time
/// passed several thresholds since the last scan, only the nearest one is announced.
pub fn next_step(
    not_after: OffsetDateTime,
    warned_days: Option<u32>,
    thresholds: &[u32],
    now: OffsetDateTime,
) -> WarningStep {
    if now >= not_after {
        return WarningStep {
            announce: None,
            next_warning_at: None,
        };
    }
    let open: Vec<u32> = thresholds
        .iter()
        .copied()
        .filter(|days| warned_days.is_none_or(|warned| *days < warned))
        .collect();
    let reached = |days: u32| now >= not_after - Duration::days(i64::from(days));
    let announce = open.iter().copied().filter(|days| reached(*days)).min();
    let floor = announce.or(warned_days);
    let next = open
        .iter()
        .copied()
        .filter(|days| floor.is_none_or(|floor| *days < floor))
        .max()
        .map(|days| not_after - Duration::days(i64::from(days)));
    WarningStep {
        announce,
        next_warning_at: next,
    }
}

#[derive(Debug, sqlx::FromRow)]
struct DueWarning {
    certificate_id: Uuid,
    order_id: Option<String>,
    not_after: OffsetDateTime,
    warned_days: Option<i32>,
    auto_renewal: bool,
}

/// Sends the due warnings of one batch. Returns how many events were written.
pub async fn scan(
    pool: &PgPool,
    outbox: &Outbox,
    thresholds: &[u32],
    now: OffsetDateTime,
) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let due: Vec<DueWarning> = sqlx::query_as(
        "SELECT c.certificate_id, c.order_id, c.not_after, c.warned_days,
                coalesce(p.enabled, false) AS auto_renewal
         FROM certificate_expiries c
         LEFT JOIN renewal_policies p ON p.order_id::text = c.order_id
         WHERE c.next_warning_at <= $1
         ORDER BY c.next_warning_at
         LIMIT $2
         FOR UPDATE OF c SKIP LOCKED",
    )
    .bind(now)
    .bind(WARNING_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut events = Vec::new();
    let mut ids = Vec::with_capacity(due.len());
    let mut warned = Vec::with_capacity(due.len());
    let mut next_warnings = Vec::with_capacity(due.len());
    for row in due {
        let already_warned = row.warned_days.and_then(|days| u32::try_from(days).ok());
        let step = next_step(row.not_after, already_warned, thresholds, now);
        if let Some(days) = step.announce {
            let event = CertificateExpiring {
                certificate_id: row.certificate_id.to_string(),
                order_id: row.order_id.clone().unwrap_or_default(),
                not_after: Some(timestamp(row.not_after)),
                days_before_expiry: days,
                auto_renewal: row.auto_renewal,
            };
            events.push(NewEvent::new(row.certificate_id.to_string(), &event));
            tracing::info!(
                certificate.id = %row.certificate_id,
                certificate.not_after = %row.not_after,
                warning.days = days,
                "certificate expires soon"
            );
        }
        ids.push(row.certificate_id);
        warned.push(step.announce.and_then(|days| i32::try_from(days).ok()));
        next_warnings.push(step.next_warning_at);
    }
    if !ids.is_empty() {
        sqlx::query(
            "UPDATE certificate_expiries AS c
             SET warned_days = coalesce(step.warned_days, c.warned_days),
                 next_warning_at = step.next_warning_at
             FROM unnest($1::uuid[], $2::int[], $3::timestamptz[])
                  AS step (certificate_id, warned_days, next_warning_at)
             WHERE c.certificate_id = step.certificate_id",
        )
        .bind(&ids)
        .bind(&warned)
        .bind(&next_warnings)
        .execute(&mut *tx)
        .await?;
    }
    let sent = events.len();
    outbox.enqueue_many(&mut tx, events).await?;
    tx.commit().await?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const THRESHOLDS: [u32; 4] = [30, 14, 7, 1];
    const NOT_AFTER: OffsetDateTime = datetime!(2030-06-30 00:00 UTC);

    #[test]
    fn first_warning_is_at_largest_threshold() {
        assert_eq!(
            first_warning_at(NOT_AFTER, &THRESHOLDS, datetime!(2030-01-01 00:00 UTC)),
            Some(datetime!(2030-05-31 00:00 UTC))
        );
    }

    #[test]
    fn expired_certificate_has_no_first_warning() {
        assert_eq!(first_warning_at(NOT_AFTER, &THRESHOLDS, NOT_AFTER), None);
        assert_eq!(
            first_warning_at(NOT_AFTER, &THRESHOLDS, datetime!(2031-01-01 00:00 UTC)),
            None
        );
    }

    #[test]
    fn thirty_day_warning_then_fourteen_due() {
        let step = next_step(
            NOT_AFTER,
            None,
            &THRESHOLDS,
            datetime!(2030-05-31 00:00 UTC),
        );

        assert_eq!(step.announce, Some(30));
        assert_eq!(step.next_warning_at, Some(datetime!(2030-06-16 00:00 UTC)));
    }

    #[test]
    fn jump_past_thresholds_announces_nearest_once() {
        let step = next_step(
            NOT_AFTER,
            Some(30),
            &THRESHOLDS,
            datetime!(2030-06-25 00:00 UTC),
        );

        assert_eq!(step.announce, Some(7));
        assert_eq!(step.next_warning_at, Some(datetime!(2030-06-29 00:00 UTC)));
    }

    #[test]
    fn last_threshold_leaves_nothing_due() {
        let step = next_step(
            NOT_AFTER,
            Some(7),
            &THRESHOLDS,
            datetime!(2030-06-29 00:00 UTC),
        );

        assert_eq!(step.announce, Some(1));
        assert_eq!(step.next_warning_at, None);
    }

    #[test]
    fn expired_certificate_gets_no_warning() {
        let step = next_step(
            NOT_AFTER,
            Some(7),
            &THRESHOLDS,
            datetime!(2030-07-01 00:00 UTC),
        );

        assert_eq!(step.announce, None);
        assert_eq!(step.next_warning_at, None);
    }

    #[test]
    fn early_scan_announces_nothing() {
        let step = next_step(
            NOT_AFTER,
            Some(30),
            &THRESHOLDS,
            datetime!(2030-06-01 00:00 UTC),
        );

        assert_eq!(step.announce, None);
        assert_eq!(step.next_warning_at, Some(datetime!(2030-06-16 00:00 UTC)));
    }
}
