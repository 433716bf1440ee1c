//! The renewal loop: each scan claims due certificates, requests order-manager to renew (or to
//! replace) each one, and records the outcome with its audit row and events in one short
//! transaction. It also sends the due expiry warnings.
//!
//! The idempotency key of a renewal derives from the certificate id and its generation in the
//! lineage. A replica that takes over the certificate of a replica that died therefore gets the
//! order already placed from order-manager, never a second Entrust order. Only an attempt
//! whose order ended FAILED moves to a new key (`key_round`).

use std::time::{Duration as StdDuration, Instant};

use certitude_platform::clock::SharedClock;
use certitude_platform::outbox::{NewEvent, Outbox};
use certitude_platform::telemetry::metrics::{self, RenewalOutcome};
use certitude_proto::events::v1::{RenewalFailed, RenewalPolicyChanged, RenewalSucceeded};
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::order::v1::{CreateOrderRequest, GetOrderRequest, Order, RenewOrderRequest};
use futures::StreamExt;
use sqlx::{PgConnection, PgPool};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::audit_store::{self, AuditEntry};
use crate::plan::{self, ENTRUST_RENEWAL_MIN_AGE};
use crate::policy::Policy;
use crate::schedule_store::{
    self, Claim, ClaimEnd, ClaimRequest, PlanSettings, ScheduledCertificate,
};
use crate::{policy_store, warnings};

/// Actor the scheduler's requests carry in order-manager's history.
pub const ACTOR: &str = "renewal-scheduler";

/// Name of the fault point after order-manager placed the renewal's order and before the
/// scheduler recorded it.
pub const FAULT_AFTER_ORDER_PLACED: &str = "renewal-after-order-placed";

/// Timing and limits of the loop.
#[derive(Debug, Clone)]
pub struct RenewerSettings {
    pub scan_interval: StdDuration,
    pub batch_size: u32,
    pub claim_lease: StdDuration,
    pub credential_concurrency: u32,
    pub plan: PlanSettings,
    pub retry_backoff: StdDuration,
    pub retry_max_backoff: StdDuration,
    pub warning_days: Vec<u32>,
    pub fault_point: Option<String>,
}

/// Renews the due certificates of every replica's share.
#[derive(Debug, Clone)]
pub struct Renewer {
    pool: PgPool,
    clock: SharedClock,
    outbox: Outbox,
    orders: OrderServiceClient<Channel>,
    settings: RenewerSettings,
}

/// The outcome of one attempt.
#[derive(Debug)]
enum Attempt {
    /// order-manager placed the new order.
    Placed {
        order: Box<Order>,
        method: &'static str,
    },
    /// Entrust does not renew the certificate before `renewable_from`.
    TooEarly {
        renewable_from: OffsetDateTime,
        message: String,
    },
    /// The attempt failed; `new_key` when its order ended FAILED, so a retry needs a new
    /// idempotency key.
    Failed { error: String, new_key: bool },
}

fn after(instant: OffsetDateTime, duration: StdDuration) -> OffsetDateTime {
    instant + Duration::try_from(duration).unwrap_or(Duration::MAX)
}

impl Renewer {
    pub fn new(
        pool: PgPool,
        clock: SharedClock,
        outbox: Outbox,
        orders: OrderServiceClient<Channel>,
        settings: RenewerSettings,
    ) -> Self {
        Self {
            pool,
            clock,
            outbox,
            orders,
            settings,
        }
    }

    /// Scans until `stop` fires. A failed scan is logged and the next one runs as usual.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(error) = self.scan().await {
                tracing::warn!(error = format!("{error:#}"), "renewal scan failed");
            }
            let now = self.clock.now();
            if let Err(error) =
                warnings::scan(&self.pool, &self.outbox, &self.settings.warning_days, now).await
            {
                tracing::warn!(error = format!("{error:#}"), "expiry warning scan failed");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.settings.scan_interval) => {}
            }
        }
    }

    /// Claims one batch of due certificates and renews them concurrently. Returns how many
    /// were claimed.
    pub async fn scan(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let request = ClaimRequest {
            now,
            lease_until: after(now, self.settings.claim_lease),
            batch_size: self.settings.batch_size,
            credential_concurrency: self.settings.credential_concurrency,
        };
        let claims = schedule_store::claim_due(&self.pool, request).await?;
        let claimed = claims.len();
        futures::stream::iter(claims)
            .for_each_concurrent(None, |claim| async move {
                if let Err(error) = self.renew(claim).await {
                    tracing::warn!(
                        certificate.id = %claim.certificate_id,
                        error = format!("{error:#}"),
                        "recording a renewal attempt failed; the claim ends with its lease"
                    );
                }
            })
            .await;
        Ok(claimed)
    }

    async fn renew(&self, claim: Claim) -> anyhow::Result<()> {
        let started_at = self.clock.now();
        let started = Instant::now();
        let Some(certificate) = schedule_store::get(&self.pool, claim.certificate_id).await? else {
            return Ok(());
        };
        let policy = match certificate.order_id.as_deref().map(Uuid::parse_str) {
            Some(Ok(order_id)) => policy_store::by_order(&self.pool, order_id).await?,
            _ => None,
        };
        // A successor that arrived while the certificate was claimed may be the order of an
        // attempt whose replica died before recording it. Sending the same idempotency key
        // again returns that order without a new Entrust call, so the attempt is recorded.
        let unrecorded = certificate.successor_certificate_id.is_some()
            && certificate.revoked_at.is_none()
            && certificate.renewal_state.is_none();
        let Some(policy) =
            policy.filter(|policy| policy.enabled && (certificate.is_live() || unrecorded))
        else {
            let mut conn = self.pool.acquire().await?;
            schedule_store::end_claim(&mut conn, claim, &ClaimEnd::default()).await?;
            return Ok(());
        };

        let method = certificate
            .renewal_method
            .clone()
            .unwrap_or_else(|| "renewal".to_owned());
        let key = idempotency_key(&certificate);
        let attempt = if method == "replacement" {
            self.replace(&policy, &key).await
        } else {
            self.renew_order(&certificate, &policy, &key).await
        };
        if matches!(attempt, Attempt::Placed { .. })
            && self.settings.fault_point.as_deref() == Some(FAULT_AFTER_ORDER_PLACED)
        {
            tracing::warn!(
                certificate.id = %certificate.certificate_id,
                fault_point = FAULT_AFTER_ORDER_PLACED,
                "fault point reached; waiting to be killed"
            );
            std::future::pending::<()>().await;
        }
        if unrecorded && !matches!(attempt, Attempt::Placed { .. }) {
            tracing::info!(
                certificate.id = %certificate.certificate_id,
                "another order replaced the certificate; no renewal needed"
            );
            let mut conn = self.pool.acquire().await?;
            schedule_store::end_claim(&mut conn, claim, &ClaimEnd::default()).await?;
            return Ok(());
        }
        let elapsed = started.elapsed();
        let record = Record {
            claim,
            certificate: &certificate,
            policy: &policy,
            started_at,
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        };
        self.record(record, attempt).await
    }

    async fn renew_order(
        &self,
        certificate: &ScheduledCertificate,
        policy: &Policy,
        key: &str,
    ) -> Attempt {
        let mut request = RenewOrderRequest {
            id: policy.order_id.to_string(),
            admin_credential_id: policy.admin_credential_id.clone().unwrap_or_default(),
            actor: ACTOR.to_owned(),
            idempotency_key: key.to_owned(),
            reuse_key: !policy.rotate_key,
            key_algorithm: String::new(),
            validity_days: policy.validity_days.unwrap_or(0),
            renewal_policy_id: policy.id.to_string(),
        };
        let mut result = self.orders.clone().renew_order(request.clone()).await;
        if let Err(status) = &result
            && request.reuse_key
            && status.code() == Code::InvalidArgument
            && status.message().starts_with("reuse_key:")
        {
            // An imported order has no stored CSR, so its key cannot be kept.
            request.reuse_key = false;
            result = self.orders.clone().renew_order(request).await;
        }
        match result {
            Ok(response) => placed(response.into_inner(), "renewal"),
            Err(status) => match too_early(&status, certificate) {
                Some(renewable_from) => Attempt::TooEarly {
                    renewable_from,
                    message: status.message().to_owned(),
                },
                None => failed(&status),
            },
        }
    }

    /// Places a new order with the order's parameters (and the policy's product and validity)
    /// in place of a renewal.
    async fn replace(&self, policy: &Policy, key: &str) -> Attempt {
        let order = match self
            .orders
            .clone()
            .get_order(GetOrderRequest {
                id: policy.order_id.to_string(),
            })
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => return failed(&status),
        };
        let key_algorithm = if order.key_algorithm.is_empty() {
            "ECDSA_P256".to_owned()
        } else {
            order.key_algorithm.clone()
        };
        let request = CreateOrderRequest {
            idempotency_key: key.to_owned(),
            credential_id: order.credential_id.clone(),
            product: policy.renewal_product().to_owned(),
            common_name: order.common_name.clone(),
            dns_names: order.dns_names.clone(),
            organization: order.organization.clone(),
            client_id: order.client_id,
            key_algorithm,
            validity_days: policy.validity_days.unwrap_or(order.validity_days),
            actor: ACTOR.to_owned(),
            ..CreateOrderRequest::default()
        };
        match self.orders.clone().create_order(request).await {
            Ok(response) => placed(response.into_inner(), "replacement"),
            Err(status) => failed(&status),
        }
    }

    async fn record(&self, record: Record<'_>, attempt: Attempt) -> anyhow::Result<()> {
        let outcome = match &attempt {
            Attempt::Placed { .. } => RenewalOutcome::Succeeded,
            Attempt::TooEarly { .. } => RenewalOutcome::Rescheduled,
            Attempt::Failed { .. } => {
                let attempts = u32::try_from(record.certificate.attempts + 1).unwrap_or(u32::MAX);
                if attempts >= record.policy.max_attempts {
                    RenewalOutcome::Failed
                } else {
                    RenewalOutcome::Retrying
                }
            }
        };
        let mut tx = self.pool.begin().await?;
        let recorded = match attempt {
            Attempt::Placed { order, method } => {
                self.record_placed(&mut tx, &record, &order, method).await?
            }
            Attempt::TooEarly {
                renewable_from,
                message,
            } => {
                self.record_too_early(&mut tx, &record, renewable_from, &message)
                    .await?
            }
            Attempt::Failed { error, new_key } => {
                self.record_failed(&mut tx, &record, &error, new_key)
                    .await?
            }
        };
        if recorded {
            tx.commit().await?;
            metrics::record_renewal(outcome);
        } else {
            tx.rollback().await?;
            tracing::warn!(
                certificate.id = %record.certificate.certificate_id,
                "the claim's lease ran out before the attempt was recorded; another replica \
                 took the certificate over"
            );
        }
        Ok(())
    }

    async fn record_placed(
        &self,
        conn: &mut PgConnection,
        record: &Record<'_>,
        order: &Order,
        method: &'static str,
    ) -> anyhow::Result<bool> {
        let certificate = record.certificate;
        let policy = record.policy;
        let new_order_id = Uuid::parse_str(&order.id)?;
        let new_certificate_id = Uuid::parse_str(&order.certificate_id).ok();
        schedule_store::lock_order(conn, &order.id).await?;
        let end = ClaimEnd {
            attempts: certificate.attempts,
            key_round: certificate.key_round,
            renewal_state: Some(if method == "renewal" {
                "renewed"
            } else {
                "replaced"
            }),
            new_order_id: Some(new_order_id),
            silence_warnings: true,
            ..ClaimEnd::default()
        };
        if !schedule_store::end_claim(conn, record.claim, &end).await? {
            return Ok(false);
        }
        let outcome = if method == "renewal" {
            "succeeded"
        } else {
            "replaced"
        };
        let note = (method == "replacement").then(|| replacement_note(certificate, policy));
        self.audit(
            conn,
            record,
            outcome,
            note,
            Some(new_order_id),
            new_certificate_id,
        )
        .await?;

        let now = self.clock.now();
        let moved =
            policy_store::move_to_order(&mut *conn, policy.id, new_order_id, &order.product, now)
                .await?;
        let attempt = u32::try_from(certificate.attempts + 1).unwrap_or(1);
        let succeeded = RenewalSucceeded {
            policy_id: policy.id.to_string(),
            order_id: policy.order_id.to_string(),
            certificate_id: certificate.certificate_id.to_string(),
            new_order_id: order.id.clone(),
            new_certificate_id: order.certificate_id.clone(),
            method: method.to_owned(),
            attempt,
        };
        self.outbox
            .enqueue(
                conn,
                NewEvent::new(certificate.certificate_id.to_string(), &succeeded),
            )
            .await?;
        let changed = RenewalPolicyChanged {
            policy_id: policy.id.to_string(),
            order_id: order.id.clone(),
            previous_order_id: policy.order_id.to_string(),
            enabled: moved.enabled,
            actor: ACTOR.to_owned(),
        };
        self.outbox
            .enqueue(conn, NewEvent::new(policy.id.to_string(), &changed))
            .await?;
        schedule_store::plan_order(conn, &order.id, Some(&moved), now, self.settings.plan).await?;
        tracing::info!(
            certificate.id = %certificate.certificate_id,
            order.id = %policy.order_id,
            renewal.new_order_id = %order.id,
            renewal.method = method,
            "automatic renewal placed its order"
        );
        Ok(true)
    }

    async fn record_too_early(
        &self,
        conn: &mut PgConnection,
        record: &Record<'_>,
        renewable_from: OffsetDateTime,
        message: &str,
    ) -> anyhow::Result<bool> {
        let certificate = record.certificate;
        let now = self.clock.now();
        let due = plan::due_time(renewable_from, now, record.policy.window.as_ref());
        let end = ClaimEnd {
            due_at: Some(due),
            renew_at: Some(due),
            attempts: certificate.attempts,
            key_round: certificate.key_round,
            ..ClaimEnd::default()
        };
        if !schedule_store::end_claim(conn, record.claim, &end).await? {
            return Ok(false);
        }
        let why = format!(
            "Entrust renews a certificate only from 30 days after its issue; rescheduled to {}. \
             order-manager: {message}",
            rfc3339(due)
        );
        tracing::info!(
            certificate.id = %certificate.certificate_id,
            renewal.due_at = %due,
            "renewal rescheduled: Entrust does not renew the certificate yet"
        );
        self.audit(conn, record, "rescheduled", Some(why), None, None)
            .await?;
        Ok(true)
    }

    async fn record_failed(
        &self,
        conn: &mut PgConnection,
        record: &Record<'_>,
        error: &str,
        new_key: bool,
    ) -> anyhow::Result<bool> {
        let certificate = record.certificate;
        let policy = record.policy;
        let attempts = certificate.attempts + 1;
        let attempts_u32 = u32::try_from(attempts).unwrap_or(u32::MAX);
        let gave_up = attempts_u32 >= policy.max_attempts;
        let now = self.clock.now();
        let retry_at = after(now, self.backoff(attempts_u32));
        let due = (!gave_up).then(|| plan::due_time(retry_at, now, policy.window.as_ref()));
        let end = ClaimEnd {
            due_at: due,
            renew_at: due,
            attempts,
            key_round: certificate.key_round + i32::from(new_key),
            renewal_state: gave_up.then_some("gave_up"),
            ..ClaimEnd::default()
        };
        if !schedule_store::end_claim(conn, record.claim, &end).await? {
            return Ok(false);
        }
        let outcome = if gave_up { "gave_up" } else { "failed" };
        self.audit(conn, record, outcome, Some(error.to_owned()), None, None)
            .await?;
        if gave_up {
            let failed = RenewalFailed {
                policy_id: policy.id.to_string(),
                order_id: policy.order_id.to_string(),
                certificate_id: certificate.certificate_id.to_string(),
                attempts: attempts_u32,
                error: error.to_owned(),
            };
            self.outbox
                .enqueue(
                    conn,
                    NewEvent::new(certificate.certificate_id.to_string(), &failed),
                )
                .await?;
            tracing::warn!(
                certificate.id = %certificate.certificate_id,
                renewal.attempts = attempts,
                error,
                "automatic renewal gave up after its last attempt"
            );
        } else {
            tracing::info!(
                certificate.id = %certificate.certificate_id,
                renewal.attempts = attempts,
                error,
                "automatic renewal failed; retrying later"
            );
        }
        Ok(true)
    }

    async fn audit(
        &self,
        conn: &mut PgConnection,
        record: &Record<'_>,
        outcome: &str,
        error: Option<String>,
        new_order_id: Option<Uuid>,
        new_certificate_id: Option<Uuid>,
    ) -> Result<(), sqlx::Error> {
        let certificate = record.certificate;
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            attempted_at: record.started_at,
            policy_id: record.policy.id,
            order_id: Some(record.policy.order_id),
            certificate_id: certificate.certificate_id,
            new_order_id,
            new_certificate_id,
            outcome: outcome.to_owned(),
            error,
            duration_ms: record.duration_ms,
            attempt: certificate.attempts + 1,
        };
        audit_store::insert(conn, &entry).await
    }

    /// Returns the delay after the `attempts`-th failed attempt: the base delay, doubled per
    /// further attempt, at most the maximum.
    fn backoff(&self, attempts: u32) -> StdDuration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.settings
            .retry_backoff
            .saturating_mul(1 << doublings)
            .min(self.settings.retry_max_backoff)
    }
}

/// The context of one attempt's record.
struct Record<'a> {
    claim: Claim,
    certificate: &'a ScheduledCertificate,
    policy: &'a Policy,
    started_at: OffsetDateTime,
    duration_ms: i64,
}

/// Returns the idempotency key of the certificate's current renewal: its id and generation,
/// and the key round once an earlier attempt's order ended FAILED.
pub fn idempotency_key(certificate: &ScheduledCertificate) -> String {
    let base = format!(
        "auto-renewal-{}-g{}",
        certificate.certificate_id, certificate.generation
    );
    if certificate.key_round == 0 {
        base
    } else {
        format!("{base}-r{}", certificate.key_round)
    }
}

fn placed(order: Order, method: &'static str) -> Attempt {
    if order.status == "FAILED" {
        return Attempt::Failed {
            error: format!("order {} failed: {}", order.id, order.error),
            new_key: true,
        };
    }
    Attempt::Placed {
        order: Box::new(order),
        method,
    }
}

fn failed(status: &Status) -> Attempt {
    Attempt::Failed {
        error: format!("{:?}: {}", status.code(), status.message()),
        new_key: false,
    }
}

/// Returns when Entrust renews the certificate, when `status` is order-manager's rejection of
/// a renewal within 30 days of the issue.
fn too_early(status: &Status, certificate: &ScheduledCertificate) -> Option<OffsetDateTime> {
    if status.code() != Code::FailedPrecondition {
        return None;
    }
    let message = status.message();
    let (_, rest) = message.split_once("renew it from ")?;
    let text = rest.split([',', ' ']).next().unwrap_or_default();
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .or_else(|| Some(certificate.lifetime().not_before + ENTRUST_RENEWAL_MIN_AGE))
}

fn replacement_note(certificate: &ScheduledCertificate, policy: &Policy) -> String {
    if certificate.lifetime().too_short_to_renew() {
        "replaced by a new order: the certificate's whole lifetime is shorter than the 30 days \
         after issue before Entrust renews a certificate"
            .to_owned()
    } else {
        format!(
            "replaced by a new order: Entrust renews an order with its own product ({}), and the \
             policy names product {}",
            policy.order_product,
            policy.renewal_product()
        )
    }
}

fn rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_default()
}
