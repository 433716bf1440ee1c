//! Recording on each order whether its certificate is in the inventory, from the inventory's
//! CertificateAddedToInventory and CertificateRejected events.
//!
//! Two durable consumers, [`ADDED_DURABLE_NAME`] and [`REJECTED_DURABLE_NAME`] (NATS 2.9 allows
//! one filter subject per consumer), run [`InventoryEventHandler`] inside the platform's inbox
//! transaction, so a redelivered event has no second effect.
//!
//! The two subjects are consumed independently and several inventory relays publish in
//! parallel, so the admission of a waiting certificate may arrive before its rejection. Both
//! events belong to the certificate's aggregate, whose envelope sequence grows by one with each
//! event of the certificate, and an order has at most one certificate. An event is therefore
//! recorded only when its sequence is higher than the recorded one, and an older event is
//! acknowledged without effect.
//!
//! An event whose order id order-manager does not store is acknowledged and ignored: the
//! certificate may have come without an order (an import into the inventory, empty order id),
//! or from another installation's order-manager.

use async_nats::jetstream;
use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{
    BoxError, ConsumerSettings, EventHandler, ReceivedEvent, run_consumer,
};
use certitude_platform::events::{EnvelopeError, Event, EventsSettings};
use certitude_platform::service::ServiceTasks;
use certitude_platform::shutdown::Shutdown;
use certitude_platform::telemetry::metrics;
use certitude_proto::events::v1::{CertificateAddedToInventory, CertificateRejected};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use std::collections::{HashMap, HashSet};

use crate::store::inventory_state::{
    self, BatchReport, InventoryReport, RecordOutcome, RecordedOrder,
};

/// Durable consumer name of order-manager's CertificateAddedToInventory consumer.
pub const ADDED_DURABLE_NAME: &str = "order-manager-certificate-added-to-inventory";

/// Durable consumer name of order-manager's CertificateRejected consumer.
pub const REJECTED_DURABLE_NAME: &str = "order-manager-certificate-rejected";

/// An inventory event that could not be recorded. The text goes to the dead-letter headers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InventoryEventError {
    #[error("the event is not a decodable {expected}")]
    Payload {
        expected: &'static str,
        #[source]
        source: EnvelopeError,
    },

    #[error(
        "certificate_id {value:?} is not a UUID: the inventory must name the certificate by \
         the id order-manager gave it"
    )]
    InvalidCertificateId { value: String },

    #[error("recording the inventory state of order {order_id} failed")]
    Db {
        order_id: Uuid,
        #[source]
        source: sqlx::Error,
    },
}

/// The inventory event a handler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InventoryEventKind {
    AddedToInventory,
    Rejected,
}

/// The order, the certificate and the state that one inventory event reports.
struct OrderCertificateReport {
    order_id: String,
    certificate_id: String,
    report: InventoryReport,
}

/// Records the inventory state of the order named in each event of one kind.
#[derive(Debug, Clone)]
pub struct InventoryEventHandler {
    kind: InventoryEventKind,
}

impl InventoryEventHandler {
    /// The handler of CertificateAddedToInventory events.
    pub fn added_to_inventory() -> Self {
        Self {
            kind: InventoryEventKind::AddedToInventory,
        }
    }

    /// The handler of CertificateRejected events.
    pub fn rejected() -> Self {
        Self {
            kind: InventoryEventKind::Rejected,
        }
    }

    fn decode(&self, event: &ReceivedEvent) -> Result<OrderCertificateReport, InventoryEventError> {
        match self.kind {
            InventoryEventKind::AddedToInventory => {
                let added: CertificateAddedToInventory =
                    event
                        .payload()
                        .map_err(|source| InventoryEventError::Payload {
                            expected: CertificateAddedToInventory::TYPE.full_name,
                            source,
                        })?;
                Ok(OrderCertificateReport {
                    order_id: added.order_id,
                    certificate_id: added.certificate_id,
                    report: InventoryReport::InInventory,
                })
            }
            InventoryEventKind::Rejected => {
                let rejected: CertificateRejected =
                    event
                        .payload()
                        .map_err(|source| InventoryEventError::Payload {
                            expected: CertificateRejected::TYPE.full_name,
                            source,
                        })?;
                Ok(OrderCertificateReport {
                    order_id: rejected.order_id,
                    certificate_id: rejected.certificate_id,
                    report: InventoryReport::Waiting {
                        reason: rejected.reason,
                        message: rejected.message,
                    },
                })
            }
        }
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), InventoryEventError> {
        let OrderCertificateReport {
            order_id,
            certificate_id,
            report,
        } = self.decode(event)?;
        if order_id.is_empty() {
            tracing::debug!(
                certificate.id = %certificate_id,
                event.id = %event.event_id,
                "the certificate came without an order; nothing to record"
            );
            return Ok(());
        }
        let Ok(order_id) = Uuid::parse_str(&order_id) else {
            tracing::debug!(
                order.id = %order_id,
                event.id = %event.event_id,
                "the inventory event's order id is not a UUID, so no stored order has it; \
                 ignoring the event"
            );
            return Ok(());
        };
        let certificate_id = Uuid::parse_str(&certificate_id).map_err(|_| {
            InventoryEventError::InvalidCertificateId {
                value: certificate_id.clone(),
            }
        })?;
        let sequence = i64::try_from(event.envelope.sequence).unwrap_or(i64::MAX);

        let outcome = inventory_state::record(conn, order_id, certificate_id, &report, sequence)
            .await
            .map_err(|source| InventoryEventError::Db { order_id, source })?;
        log_outcome(&outcome, order_id, certificate_id, &report, sequence);
        if matches!(
            (&outcome, &report),
            (RecordOutcome::Recorded, InventoryReport::InInventory)
        ) {
            record_issuance(conn, order_id, event).await;
        }
        Ok(())
    }
}

impl InventoryEventHandler {
    /// Applies `events` as one [`InventoryEventHandler::apply`] call each would, recording the
    /// reports about distinct orders with one statement. A batch that names an order twice is
    /// applied one event at a time, so that each event's sequence is compared with the one
    /// recorded before it.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), InventoryEventError> {
        // The events that name an order id, and their reports in the same order.
        let mut reported_events: Vec<&ReceivedEvent> = Vec::with_capacity(events.len());
        let mut reports: Vec<BatchReport> = Vec::with_capacity(events.len());
        for event in events {
            let OrderCertificateReport {
                order_id,
                certificate_id,
                report,
            } = self.decode(event)?;
            let Ok(order_id) = Uuid::parse_str(&order_id) else {
                // Logged and ignored there, without a statement.
                self.apply(conn, event).await?;
                continue;
            };
            let certificate_id = Uuid::parse_str(&certificate_id).map_err(|_| {
                InventoryEventError::InvalidCertificateId {
                    value: certificate_id.clone(),
                }
            })?;
            reported_events.push(event);
            reports.push(BatchReport {
                order_id,
                certificate_id,
                report,
                sequence: i64::try_from(event.envelope.sequence).unwrap_or(i64::MAX),
            });
        }

        let distinct: HashSet<Uuid> = reports.iter().map(|report| report.order_id).collect();
        if distinct.len() < reports.len() {
            for event in reported_events {
                self.apply(conn, event).await?;
            }
            return Ok(());
        }
        let Some(first_order) = reports.first().map(|report| report.order_id) else {
            return Ok(());
        };

        let updated: HashMap<Uuid, RecordedOrder> = inventory_state::record_many(conn, &reports)
            .await
            .map_err(|source| InventoryEventError::Db {
                order_id: first_order,
                source,
            })?
            .into_iter()
            .map(|order| (order.id, order))
            .collect();
        for (event, batch_report) in reported_events.into_iter().zip(&reports) {
            let BatchReport {
                order_id,
                certificate_id,
                report,
                sequence,
            } = batch_report;
            let Some(order) = updated.get(order_id) else {
                // An unknown order, another certificate or a stale event. Recording the event
                // alone finds which, and changes nothing.
                let outcome =
                    inventory_state::record(conn, *order_id, *certificate_id, report, *sequence)
                        .await
                        .map_err(|source| InventoryEventError::Db {
                            order_id: *order_id,
                            source,
                        })?;
                log_outcome(&outcome, *order_id, *certificate_id, report, *sequence);
                continue;
            };

            log_outcome(
                &RecordOutcome::Recorded,
                *order_id,
                *certificate_id,
                report,
                *sequence,
            );
            if *report == InventoryReport::InInventory
                && order.source == "created"
                && let Some(stored_at) = occurred_at(event)
            {
                metrics::record_issuance(&order.product, stored_at - order.created_at);
            }
        }
        Ok(())
    }
}

/// Returns when the event occurred, from its envelope.
fn occurred_at(event: &ReceivedEvent) -> Option<time::OffsetDateTime> {
    let occurred_at = event.envelope.occurred_at.as_ref()?;
    let nanos = i128::from(occurred_at.seconds) * 1_000_000_000 + i128::from(occurred_at.nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// Records the issuance latency of an order Certitude placed: from the order's creation to
/// the moment inventory stored its certificate (the event's `occurred_at`). Imported orders are
/// skipped, because their creation time is the import's. A failed read only loses the sample.
async fn record_issuance(conn: &mut PgConnection, order_id: Uuid, event: &ReceivedEvent) {
    let Some(stored_at) = occurred_at(event) else {
        return;
    };
    let order: Result<Option<(String, time::OffsetDateTime)>, sqlx::Error> = sqlx::query_as(
        "SELECT product, created_at FROM orders WHERE id = $1 AND source = 'created'",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await;
    match order {
        Ok(Some((product, created_at))) => {
            metrics::record_issuance(&product, stored_at - created_at);
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(
            order.id = %order_id,
            error = %error,
            "failed to read the order for its issuance latency; the sample is lost"
        ),
    }
}

impl EventHandler for InventoryEventHandler {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.apply(conn, event).await.map_err(BoxError::from)
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), BoxError> {
        self.apply_batch(conn, events).await.map_err(BoxError::from)
    }
}

fn log_outcome(
    outcome: &RecordOutcome,
    order_id: Uuid,
    certificate_id: Uuid,
    report: &InventoryReport,
    sequence: i64,
) {
    match (outcome, report) {
        (RecordOutcome::Recorded, InventoryReport::InInventory) => tracing::info!(
            order.id = %order_id,
            certificate.id = %certificate_id,
            "the order's certificate is in the inventory"
        ),
        (RecordOutcome::Recorded, InventoryReport::Waiting { reason, .. }) => tracing::info!(
            order.id = %order_id,
            certificate.id = %certificate_id,
            inventory.reason = %reason,
            "the order's certificate waits outside the inventory"
        ),
        (RecordOutcome::UnknownOrder, _) => tracing::debug!(
            order.id = %order_id,
            certificate.id = %certificate_id,
            "the inventory event names an order order-manager does not store; ignoring it"
        ),
        (
            RecordOutcome::OtherCertificate {
                order_certificate_id,
            },
            _,
        ) => tracing::warn!(
            order.id = %order_id,
            certificate.id = %certificate_id,
            order.certificate_id = ?order_certificate_id,
            "the inventory event is about a certificate the order does not have; ignoring it"
        ),
        (RecordOutcome::Stale { recorded_sequence }, _) => tracing::debug!(
            order.id = %order_id,
            certificate.id = %certificate_id,
            event.sequence = sequence,
            recorded.sequence = recorded_sequence,
            "a later inventory event of the certificate is recorded already; ignoring the \
             older one"
        ),
    }
}

/// Spawns the CertificateAddedToInventory and CertificateRejected consumers into `tasks`,
/// where they run until `stop` fires.
pub(crate) fn spawn_consumers(
    tasks: &mut ServiceTasks,
    stop: &Shutdown,
    jetstream: &jetstream::Context,
    pool: &PgPool,
    clock: &SharedClock,
    events: &EventsSettings,
) {
    let consumers = [
        (
            "certificate-added-to-inventory-consumer",
            ADDED_DURABLE_NAME,
            CertificateAddedToInventory::TYPE,
            InventoryEventKind::AddedToInventory,
        ),
        (
            "certificate-rejected-consumer",
            REJECTED_DURABLE_NAME,
            CertificateRejected::TYPE,
            InventoryEventKind::Rejected,
        ),
    ];
    for (task_name, durable_name, event_type, kind) in consumers {
        let settings = ConsumerSettings::new(
            events,
            durable_name,
            event_type.subject(&events.subject_prefix),
        );
        let consumer = run_consumer(
            jetstream.clone(),
            pool.clone(),
            clock.clone(),
            settings,
            InventoryEventHandler { kind },
            stop.token(),
        );
        tasks.spawn(task_name, async move {
            consumer.await?;
            Ok(())
        });
    }
}
