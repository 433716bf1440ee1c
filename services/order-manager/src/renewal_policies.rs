//! The auto-renewal policies of orders, kept from renewal-scheduler's RenewalPolicyChanged
//! events, and the check that rejects a manual renewal of an order that a policy renews.
//!
//! The durable consumer [`DURABLE_NAME`] runs [`PolicyEventHandler`] inside the platform's
//! inbox transaction, so a redelivered event has no second effect. Several scheduler relays may
//! publish a policy's events out of order, so an event is applied only when its envelope
//! sequence is higher than the one stored for the policy.

use async_nats::jetstream;
use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{
    BoxError, ConsumerSettings, EventHandler, ReceivedEvent, run_consumer,
};
use certitude_platform::events::{EnvelopeError, Event, EventsSettings};
use certitude_platform::service::ServiceTasks;
use certitude_platform::shutdown::Shutdown;
use certitude_proto::events::v1::RenewalPolicyChanged;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::OrderError;

/// Durable consumer name of order-manager's RenewalPolicyChanged consumer.
pub const DURABLE_NAME: &str = "order-manager-renewal-policy-changed";

/// A RenewalPolicyChanged event that could not be recorded. The text goes to the dead-letter
/// headers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyEventError {
    #[error("the event is not a decodable RenewalPolicyChanged")]
    Payload(#[from] EnvelopeError),

    #[error("{field} {value:?} is not a UUID: renewal-scheduler must send Certitude ids")]
    InvalidId { field: &'static str, value: String },

    #[error("recording renewal policy {policy_id} failed")]
    Db {
        policy_id: Uuid,
        #[source]
        source: sqlx::Error,
    },
}

/// Records each policy's order and whether it is enabled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PolicyEventHandler;

impl PolicyEventHandler {
    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), PolicyEventError> {
        let changed: RenewalPolicyChanged = event.payload()?;
        let policy_id = parse_id("policy_id", &changed.policy_id)?;
        let order_id = parse_id("order_id", &changed.order_id)?;
        let sequence = i64::try_from(event.envelope.sequence).unwrap_or(i64::MAX);

        let applied = sqlx::query(
            "INSERT INTO renewal_policies (policy_id, order_id, enabled, sequence)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (policy_id) DO UPDATE
             SET order_id = EXCLUDED.order_id, enabled = EXCLUDED.enabled,
                 sequence = EXCLUDED.sequence
             WHERE renewal_policies.sequence < EXCLUDED.sequence",
        )
        .bind(policy_id)
        .bind(order_id)
        .bind(changed.enabled)
        .bind(sequence)
        .execute(conn)
        .await
        .map_err(|source| PolicyEventError::Db { policy_id, source })?
        .rows_affected();
        if applied == 1 {
            tracing::info!(
                renewal_policy.id = %policy_id,
                order.id = %order_id,
                renewal_policy.enabled = changed.enabled,
                "recorded the auto-renewal policy of the order"
            );
        } else {
            tracing::debug!(
                renewal_policy.id = %policy_id,
                event.sequence = sequence,
                "a later event of the renewal policy is recorded already; ignoring the older one"
            );
        }
        Ok(())
    }
}

impl EventHandler for PolicyEventHandler {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.apply(conn, event).await.map_err(BoxError::from)
    }
}

fn parse_id(field: &'static str, value: &str) -> Result<Uuid, PolicyEventError> {
    Uuid::parse_str(value).map_err(|_| PolicyEventError::InvalidId {
        field,
        value: value.to_owned(),
    })
}

/// Returns the enabled auto-renewal policy of `order_id`, if any.
pub(crate) async fn enabled_policy(
    executor: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT policy_id FROM renewal_policies WHERE order_id = $1 AND enabled
         ORDER BY sequence DESC LIMIT 1",
    )
    .bind(order_id)
    .fetch_optional(executor)
    .await
}

/// Fails with [`OrderError::AutoRenewalActive`] when an enabled policy covers `order_id` and
/// the request does not run under it: only renewal-scheduler sends the policy's id.
pub(crate) async fn check_manual_renewal(
    pool: &PgPool,
    order_id: Uuid,
    request_policy_id: &str,
) -> Result<(), OrderError> {
    let Some(policy_id) = enabled_policy(pool, order_id).await? else {
        return Ok(());
    };
    if Uuid::parse_str(request_policy_id.trim()).ok() == Some(policy_id) {
        return Ok(());
    }
    Err(OrderError::AutoRenewalActive {
        order_id,
        policy_id,
    })
}

/// Spawns the RenewalPolicyChanged consumer into `tasks`, where it runs until `stop` fires.
pub(crate) fn spawn_consumer(
    tasks: &mut ServiceTasks,
    stop: &Shutdown,
    jetstream: &jetstream::Context,
    pool: &PgPool,
    clock: &SharedClock,
    events: &EventsSettings,
) {
    let settings = ConsumerSettings::new(
        events,
        DURABLE_NAME,
        RenewalPolicyChanged::TYPE.subject(&events.subject_prefix),
    );
    let consumer = run_consumer(
        jetstream.clone(),
        pool.clone(),
        clock.clone(),
        settings,
        PolicyEventHandler,
        stop.token(),
    );
    tasks.spawn("renewal-policy-changed-consumer", async move {
        consumer.await?;
        Ok(())
    });
}
