//! The renewal schedule on `certificate_expiries`: planning each certificate's renewal, the
//! due-scan with its claims, and the end of each claim.
//!
//! A claim sets `claimed_until` and moves `due_at` to the same instant in one short
//! transaction, taken with `FOR UPDATE SKIP LOCKED` and committed at once, so no transaction
//! stays open while order-manager is called. A replica that dies keeps its claim until the
//! lease ends; the row is then due again and another replica takes it. Every end of a claim
//! names the claim's token, so a replica whose lease ran out cannot overwrite the work of the
//! replica that took over.

use std::time::Duration as StdDuration;

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::plan::{self, Lifetime};
use crate::policy::Policy;

/// The schedule-relevant state of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduledCertificate {
    pub certificate_id: Uuid,
    pub order_id: Option<String>,
    pub credential_id: Option<String>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: OffsetDateTime,
    pub recorded_at: OffsetDateTime,
    pub generation: i32,
    pub successor_certificate_id: Option<Uuid>,
    pub revoked_at: Option<OffsetDateTime>,
    pub renew_at: Option<OffsetDateTime>,
    pub renewal_method: Option<String>,
    pub due_at: Option<OffsetDateTime>,
    pub claimed_until: Option<OffsetDateTime>,
    pub claim_token: Option<Uuid>,
    pub attempts: i32,
    pub key_round: i32,
    pub renewal_state: Option<String>,
    pub new_order_id: Option<Uuid>,
}

const COLUMNS: &str = "certificate_id, order_id, credential_id, not_before, not_after, \
    recorded_at, generation, successor_certificate_id, revoked_at, renew_at, renewal_method, \
    due_at, claimed_until, claim_token, attempts, key_round, renewal_state, new_order_id";

impl ScheduledCertificate {
    /// Returns the certificate's validity; the recording time replaces an unreadable
    /// start of validity.
    pub fn lifetime(&self) -> Lifetime {
        Lifetime {
            not_before: self.not_before.unwrap_or(self.recorded_at),
            not_after: self.not_after,
        }
    }

    /// Tells whether the certificate may still be renewed: not revoked, not replaced, and not
    /// finished by the scheduler.
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
            && self.successor_certificate_id.is_none()
            && !matches!(self.renewal_state.as_deref(), Some("renewed" | "replaced"))
    }
}

/// Settings of renewal planning.
#[derive(Debug, Clone, Copy)]
pub struct PlanSettings {
    pub jitter: StdDuration,
}

/// A planned renewal: when (before and after the window) and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub renew_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    pub method: &'static str,
}

/// Plans the renewal of `certificate` under `policy` at `now`; `None` when nothing renews it.
pub fn plan_renewal(
    certificate: &ScheduledCertificate,
    policy: &Policy,
    now: OffsetDateTime,
    settings: PlanSettings,
) -> Option<Planned> {
    if !policy.enabled || !certificate.is_live() {
        return None;
    }
    let lifetime = certificate.lifetime();
    let point = plan::renewal_point(lifetime, policy.timing);
    let point = point
        + plan::jitter_for(
            certificate.certificate_id,
            settings.jitter,
            point,
            lifetime.not_after,
        );
    let renew_at = match &policy.window {
        Some(window) => window.next_open(point),
        None => point,
    };
    let method = if lifetime.too_short_to_renew() || policy.changes_product() {
        "replacement"
    } else {
        "renewal"
    };
    Some(Planned {
        renew_at,
        due_at: plan::due_time(renew_at, now, policy.window.as_ref()),
        method,
    })
}

/// Takes a transaction-scoped lock on `order_id`, so that recording a certificate of the order
/// and setting or moving the order's policy happen one after the other.
pub async fn lock_order(conn: &mut PgConnection, order_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('renewal-order:' || $1, 0))")
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the locks of [`lock_order`] for every order of `order_ids`, in one order for all
/// transactions so that two batches cannot wait on each other.
pub async fn lock_orders(conn: &mut PgConnection, order_ids: &[&str]) -> Result<(), sqlx::Error> {
    let mut sorted = order_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('renewal-order:' || order_id, 0))
         FROM unnest($1::text[]) WITH ORDINALITY AS locked (order_id, position)
         ORDER BY position",
    )
    .bind(&sorted)
    .execute(conn)
    .await?;
    Ok(())
}

/// Returns the certificate `certificate_id`, if recorded.
pub async fn get(
    conn: impl sqlx::PgExecutor<'_>,
    certificate_id: Uuid,
) -> Result<Option<ScheduledCertificate>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificate_expiries WHERE certificate_id = $1"
    )))
    .bind(certificate_id)
    .fetch_optional(conn)
    .await
}

/// Plans, or clears, the renewal of every live certificate of `order_id` under `policy`,
/// starting its attempts afresh. A certificate claimed at `now` keeps its claim; the replica
/// that claimed it finishes the attempt.
pub async fn plan_order(
    conn: &mut PgConnection,
    order_id: &str,
    policy: Option<&Policy>,
    now: OffsetDateTime,
    settings: PlanSettings,
) -> Result<u64, sqlx::Error> {
    let certificates: Vec<ScheduledCertificate> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificate_expiries WHERE order_id = $1 FOR UPDATE"
    )))
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut planned = 0;
    for certificate in certificates.iter().filter(|c| c.is_live()) {
        let plan = policy.and_then(|policy| plan_renewal(certificate, policy, now, settings));
        let claimed = certificate.claimed_until.is_some_and(|until| until > now);
        sqlx::query(
            "UPDATE certificate_expiries
             SET renew_at = $2, renewal_method = $3,
                 due_at = CASE WHEN $4 THEN due_at ELSE $5 END,
                 attempts = 0, renewal_state = NULL
             WHERE certificate_id = $1",
        )
        .bind(certificate.certificate_id)
        .bind(plan.map(|plan| plan.renew_at))
        .bind(plan.map(|plan| plan.method))
        .bind(claimed)
        .bind(plan.map(|plan| plan.due_at))
        .execute(&mut *conn)
        .await?;
        planned += u64::from(plan.is_some());
    }
    Ok(planned)
}

/// One scan's claim settings.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest {
    pub now: OffsetDateTime,
    pub lease_until: OffsetDateTime,
    pub batch_size: u32,
    pub credential_concurrency: u32,
}

/// A certificate this replica claimed, with the token that proves the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub certificate_id: Uuid,
    pub token: Uuid,
}

/// The due-scan: up to `$2` certificates due at `$1`, oldest due first, locked for the
/// claim. It reads the partial index on `due_at`, so its cost follows the rows it returns, not
/// the size of the table.
pub const DUE_SCAN_SQL: &str = "SELECT certificate_id, credential_id FROM certificate_expiries
     WHERE due_at <= $1
     ORDER BY due_at
     LIMIT $2
     FOR UPDATE SKIP LOCKED";

/// Claims up to `batch_size` due certificates, oldest due first, leaving at most
/// `credential_concurrency` claims per credential over every replica. The rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so concurrent scans of other replicas take other rows, and the
/// transaction commits before this returns.
pub async fn claim_due(pool: &PgPool, request: ClaimRequest) -> Result<Vec<Claim>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let candidates: Vec<(Uuid, Option<String>)> = sqlx::query_as(DUE_SCAN_SQL)
        .bind(request.now)
        .bind(i64::from(request.batch_size))
        .fetch_all(&mut *tx)
        .await?;
    if candidates.is_empty() {
        tx.rollback().await?;
        return Ok(Vec::new());
    }

    let mut credentials: Vec<String> = candidates
        .iter()
        .map(|(_, credential)| credential.clone().unwrap_or_default())
        .collect();
    credentials.sort();
    credentials.dedup();
    let mut chosen = Vec::new();
    // Every claim takes the credential locks in sorted order, so no two claims deadlock.
    for credential in credentials {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('renewal-credential:' || $1, 0))",
        )
        .bind(&credential)
        .execute(&mut *tx)
        .await?;
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM certificate_expiries
             WHERE coalesce(credential_id, '') = $1 AND claimed_until > $2",
        )
        .bind(&credential)
        .bind(request.now)
        .fetch_one(&mut *tx)
        .await?;
        let free = i64::from(request.credential_concurrency).saturating_sub(active);
        let free = usize::try_from(free.max(0)).unwrap_or(0);
        chosen.extend(
            candidates
                .iter()
                .filter(|(_, of)| of.as_deref().unwrap_or_default() == credential)
                .take(free)
                .map(|(id, _)| *id),
        );
    }

    let claims: Vec<Claim> = chosen
        .into_iter()
        .map(|certificate_id| Claim {
            certificate_id,
            token: Uuid::new_v4(),
        })
        .collect();
    for claim in &claims {
        sqlx::query(
            "UPDATE certificate_expiries
             SET claimed_until = $2, due_at = $2, claim_token = $3
             WHERE certificate_id = $1",
        )
        .bind(claim.certificate_id)
        .bind(request.lease_until)
        .bind(claim.token)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(claims)
}

/// The state a claim leaves its certificate in.
#[derive(Debug, Clone, Default)]
pub struct ClaimEnd {
    /// When the scheduler acts next; `None` when it is done with the certificate.
    pub due_at: Option<OffsetDateTime>,
    /// The planned renewal time shown in the forecast.
    pub renew_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub key_round: i32,
    /// `renewed`, `replaced` or `gave_up`; `None` while renewals go on.
    pub renewal_state: Option<&'static str>,
    pub new_order_id: Option<Uuid>,
    /// Stops expiry warnings, because a successor exists.
    pub silence_warnings: bool,
}

/// Ends `claim` with `end`. Returns false, changing nothing, when the claim was lost: its lease
/// ran out and another replica claimed the certificate.
pub async fn end_claim(
    conn: &mut PgConnection,
    claim: Claim,
    end: &ClaimEnd,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE certificate_expiries
         SET claimed_until = NULL, claim_token = NULL, due_at = $3, renew_at = $4,
             attempts = $5, key_round = $6, renewal_state = $7,
             new_order_id = coalesce($8, new_order_id),
             next_warning_at = CASE WHEN $9 THEN NULL ELSE next_warning_at END
         WHERE certificate_id = $1 AND claim_token = $2",
    )
    .bind(claim.certificate_id)
    .bind(claim.token)
    .bind(end.due_at)
    .bind(end.renew_at)
    .bind(end.attempts)
    .bind(end.key_round)
    .bind(end.renewal_state)
    .bind(end.new_order_id)
    .bind(end.silence_warnings)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Marks the certificate `certificate_id` revoked: it is never renewed and gets no more
/// warnings. Returns whether a row changed.
pub async fn mark_revoked(
    conn: &mut PgConnection,
    certificate_id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE certificate_expiries
         SET revoked_at = coalesce(revoked_at, $2), renew_at = NULL, due_at = NULL,
             next_warning_at = NULL
         WHERE certificate_id = $1",
    )
    .bind(certificate_id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Marks every certificate of `order_id` revoked, for a revocation that names no certificate.
pub async fn mark_order_revoked(
    conn: &mut PgConnection,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE certificate_expiries
         SET revoked_at = coalesce(revoked_at, $2), renew_at = NULL, due_at = NULL,
             next_warning_at = NULL
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Records that `successor_id` replaced `certificate_id`: no renewal and no warning for the
/// predecessor any more. A claimed predecessor keeps its claim, whose end records the rest.
pub async fn mark_replaced(
    conn: &mut PgConnection,
    certificate_id: Uuid,
    successor_id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE certificate_expiries
         SET successor_certificate_id = $2, next_warning_at = NULL, renew_at = NULL,
             due_at = CASE WHEN claimed_until > $3 THEN due_at ELSE NULL END
         WHERE certificate_id = $1
         RETURNING generation",
    )
    .bind(certificate_id)
    .bind(successor_id)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Returns, for each order of `order_ids` that a scheduled replacement placed, the generation
/// of the certificate it replaced, as [`generation_before_order`] does for one.
pub async fn generations_before_orders(
    conn: &mut PgConnection,
    order_ids: &[Uuid],
) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (new_order_id) new_order_id, generation FROM certificate_expiries
         WHERE new_order_id = ANY($1)
         ORDER BY new_order_id, generation DESC",
    )
    .bind(order_ids)
    .fetch_all(conn)
    .await
}

/// Returns the generation of the certificate whose renewal or replacement placed `order_id`.
pub async fn generation_before_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT generation FROM certificate_expiries WHERE new_order_id = $1
         ORDER BY generation DESC LIMIT 1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}
