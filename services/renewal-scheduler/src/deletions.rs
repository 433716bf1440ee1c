//! Disabling the renewal policy of an order deleted from Certitude, from OrderDeleted events.
//!
//! The durable consumer [`DURABLE_NAME`] runs [`OrderDeletionRecorder`] inside the platform's
//! inbox transaction. A deleted order is no longer Certitude's to renew, so its policy is
//! disabled (with RenewalPolicyChanged, which order-manager consumes) and its certificates'
//! planned renewals are cleared. The policy stays readable, as after DeleteRenewalPolicy.

use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{BoxError, EventHandler, ReceivedEvent};
use certitude_platform::events::EnvelopeError;
use certitude_platform::outbox::{NewEvent, Outbox, OutboxError};
use certitude_proto::events::v1::{OrderDeleted, RenewalPolicyChanged};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::policy_store;
use crate::schedule_store::{self, PlanSettings};

/// Durable consumer name of the scheduler's OrderDeleted consumer.
pub const DURABLE_NAME: &str = "renewal-order-deleted";

/// An OrderDeleted event that could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("the event is not a decodable OrderDeleted")]
    Payload(#[from] EnvelopeError),

    #[error("disabling the renewal policy of deleted order {order_id} failed")]
    Db {
        order_id: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("announcing the disabled renewal policy of deleted order {order_id} failed")]
    Outbox {
        order_id: String,
        #[source]
        source: OutboxError,
    },
}

/// Disables the policy of each deleted order that has one.
#[derive(Debug, Clone)]
pub struct OrderDeletionRecorder {
    clock: SharedClock,
    outbox: Outbox,
    plan: PlanSettings,
}

impl OrderDeletionRecorder {
    pub fn new(clock: SharedClock, outbox: Outbox, plan: PlanSettings) -> Self {
        Self {
            clock,
            outbox,
            plan,
        }
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), DeletionError> {
        let deleted: OrderDeleted = event.payload()?;
        let Ok(order_id) = Uuid::parse_str(&deleted.order_id) else {
            tracing::warn!(order.id = ?deleted.order_id, "OrderDeleted names no order UUID; ignoring it");
            return Ok(());
        };
        let db_error = |source| DeletionError::Db {
            order_id: deleted.order_id.clone(),
            source,
        };
        let now = self.clock.now();
        schedule_store::lock_order(conn, &deleted.order_id)
            .await
            .map_err(db_error)?;
        let actor = format!("order deleted by {}", deleted.actor);
        let Some(policy) = policy_store::disable(&mut *conn, order_id, &actor, now)
            .await
            .map_err(db_error)?
        else {
            return Ok(());
        };
        let changed = RenewalPolicyChanged {
            policy_id: policy.id.to_string(),
            order_id: policy.order_id.to_string(),
            previous_order_id: String::new(),
            enabled: false,
            actor: policy.actor.clone(),
        };
        self.outbox
            .enqueue(conn, NewEvent::new(policy.id.to_string(), &changed))
            .await
            .map_err(|source| DeletionError::Outbox {
                order_id: deleted.order_id.clone(),
                source,
            })?;
        schedule_store::plan_order(conn, &deleted.order_id, None, now, self.plan)
            .await
            .map_err(db_error)?;
        tracing::info!(
            renewal_policy.id = %policy.id,
            order.id = %order_id,
            "the order was deleted; its renewal policy is disabled"
        );
        Ok(())
    }
}

impl EventHandler for OrderDeletionRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.record(conn, event).await.map_err(BoxError::from)
    }
}
