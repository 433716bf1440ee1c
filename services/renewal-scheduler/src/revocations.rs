//! Stopping renewals and warnings of revoked certificates, from CertificateRevoked events and
//! from OrderStatusChanged events that report an order REVOKED.
//!
//! The durable consumers [`DURABLE_NAME`] and [`STATUS_DURABLE_NAME`] run [`RevocationRecorder`]
//! and [`OrderRevocationRecorder`] inside the platform's inbox transaction. A revoked
//! certificate is never renewed, whatever its policy sets. CertificateRevoked reports the
//! revocations Certitude requested; OrderStatusChanged to REVOKED also reports one made in the
//! Entrust portal, which order-manager's portal reconcile finds.

use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{BoxError, EventHandler, ReceivedEvent};
use certitude_platform::events::EnvelopeError;
use certitude_proto::events::v1::{CertificateRevoked, OrderStatusChanged};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::schedule_store;

/// Durable consumer name of the scheduler's CertificateRevoked consumer.
pub const DURABLE_NAME: &str = "renewal-certificate-revoked";

/// Durable consumer name of the scheduler's OrderStatusChanged consumer.
pub const STATUS_DURABLE_NAME: &str = "renewal-order-status-changed";

/// Certitude's order state that revokes every certificate of the order.
const REVOKED: &str = "REVOKED";

/// A CertificateRevoked event that could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("the event is not a decodable CertificateRevoked or OrderStatusChanged")]
    Payload(#[from] EnvelopeError),

    #[error("recording the revocation of order {order_id} failed")]
    Db {
        order_id: String,
        #[source]
        source: sqlx::Error,
    },
}

/// Marks each revoked certificate, or every certificate of the order when the event names
/// none.
#[derive(Debug, Clone)]
pub struct RevocationRecorder {
    clock: SharedClock,
}

impl RevocationRecorder {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock }
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), RevocationError> {
        let revoked: CertificateRevoked = event.payload()?;
        let now = self.clock.now();
        let db_error = |source| RevocationError::Db {
            order_id: revoked.order_id.clone(),
            source,
        };
        let changed = match Uuid::parse_str(&revoked.certificate_id) {
            Ok(certificate_id) => u64::from(
                schedule_store::mark_revoked(conn, certificate_id, now)
                    .await
                    .map_err(db_error)?,
            ),
            Err(_) => schedule_store::mark_order_revoked(conn, &revoked.order_id, now)
                .await
                .map_err(db_error)?,
        };
        tracing::info!(
            order.id = %revoked.order_id,
            certificate.id = %revoked.certificate_id,
            certificates = changed,
            "revoked certificate will not be renewed"
        );
        Ok(())
    }
}

impl EventHandler for RevocationRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.record(conn, event).await.map_err(BoxError::from)
    }
}

/// Marks every certificate of an order revoked when OrderStatusChanged reports the order
/// REVOKED; other states change nothing here.
#[derive(Debug, Clone)]
pub struct OrderRevocationRecorder {
    clock: SharedClock,
}

impl OrderRevocationRecorder {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock }
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), RevocationError> {
        let changed: OrderStatusChanged = event.payload()?;
        if changed.status != REVOKED {
            return Ok(());
        }
        let count = schedule_store::mark_order_revoked(conn, &changed.order_id, self.clock.now())
            .await
            .map_err(|source| RevocationError::Db {
                order_id: changed.order_id.clone(),
                source,
            })?;
        tracing::info!(
            order.id = %changed.order_id,
            order.previous_status = %changed.previous_status,
            certificates = count,
            "the order was revoked; its certificates will not be renewed"
        );
        Ok(())
    }
}

impl EventHandler for OrderRevocationRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.record(conn, event).await.map_err(BoxError::from)
    }
}
