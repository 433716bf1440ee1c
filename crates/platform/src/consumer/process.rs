//! Processing of one message: inbox, handler, commit, acknowledgement or dead letter.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use tracing::Instrument;
use uuid::Uuid;

use super::dead_letter::{self, MAX_ERROR_TEXT, Origin, Reason, retry_delay};
use super::{BoxError, Consumer, EventHandler, ReceivedEvent};
use crate::events::{self, EnvelopeError, HEADER_TRACEPARENT, error_text};
use crate::{db, telemetry};

/// Position of a message in its stream and its delivery count.
pub(super) struct Delivery {
    stream: String,
    pub(super) stream_sequence: u64,
    pub(super) delivered: u64,
}

/// A message body that can never be processed.
#[derive(Debug, thiserror::Error)]
pub(super) enum Undecodable {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),

    #[error("envelope event_id {value:?} is not a UUID")]
    EventId {
        value: String,
        #[source]
        source: uuid::Error,
    },
}

/// Result of applying an event that did not fail.
enum Applied {
    Processed,
    /// The inbox already had the event: nothing was done.
    Duplicate,
}

/// Failure of applying an event.
enum ApplyError {
    /// The handler failed: counts towards `max_deliver`.
    Handler(BoxError),
    /// Postgres failed around the handler: retried without counting as the handler's failure.
    Db(sqlx::Error),
}

impl<H: EventHandler> Consumer<H> {
    /// Processes one message to its end: acknowledged, negatively acknowledged with a delay,
    /// or moved to the dead-letter stream and terminated.
    pub(super) async fn process(&self, message: jetstream::Message) {
        let Some(delivery) = delivery(&message) else {
            tracing::warn!(
                subject = %message.subject,
                "received a message without JetStream delivery metadata; ignoring it"
            );
            return;
        };
        if delivery.delivered > 1 {
            crate::telemetry::metrics::record_redelivery(&self.settings.durable_name);
        }
        match decode(&message, &delivery) {
            Ok(event) => {
                let span = event_span(&self.settings.durable_name, &event);
                self.process_event(&message, &event, &delivery)
                    .instrument(span)
                    .await;
            }
            Err(error) => self.reject_undecodable(&message, &delivery, &error).await,
        }
    }

    /// Moves a message that does not decode to the dead-letter stream, since no retry can
    /// help it.
    pub(super) async fn reject_undecodable(
        &self,
        message: &jetstream::Message,
        delivery: &Delivery,
        error: &Undecodable,
    ) {
        let text = error_text(error, MAX_ERROR_TEXT);
        tracing::warn!(
            consumer = %self.settings.durable_name,
            stream.sequence = delivery.stream_sequence,
            error = %text,
            "received an undecodable message; moving it to the dead-letter stream"
        );
        self.dead_letter(message, delivery, Reason::Undecodable, &text)
            .await;
    }

    pub(super) async fn process_event(
        &self,
        message: &jetstream::Message,
        event: &ReceivedEvent,
        delivery: &Delivery,
    ) {
        match self.with_progress(message, self.apply(event)).await {
            Ok(Applied::Processed) => {
                tracing::debug!("processed event");
                self.ack(message).await;
            }
            Ok(Applied::Duplicate) => {
                tracing::debug!("event was processed before; acknowledging it without effect");
                self.ack(message).await;
            }
            Err(ApplyError::Handler(error)) => {
                let text = error_text(error.as_ref(), MAX_ERROR_TEXT);
                self.handler_failed(message, delivery, &text).await;
            }
            Err(ApplyError::Db(error)) => {
                let delay = retry_delay(&self.settings.backoff, delivery.delivered);
                tracing::warn!(
                    error = %error_text(&error, 1024),
                    retry_in_ms = delay.as_millis() as u64,
                    "recording the event failed in Postgres; retrying"
                );
                nak(message, delay).await;
            }
        }
    }

    /// Records the event in the inbox and applies it, in one transaction.
    async fn apply(&self, event: &ReceivedEvent) -> Result<Applied, ApplyError> {
        let mut tx = self.pool.begin().await.map_err(ApplyError::Db)?;
        let inserted = sqlx::query(
            "INSERT INTO inbox (consumer, event_id, subject, stream_sequence, processed_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind(&self.settings.durable_name)
        .bind(event.event_id)
        .bind(&event.subject)
        .bind(i64::try_from(event.stream_sequence).unwrap_or(i64::MAX))
        .bind(self.clock.now())
        .execute(&mut *tx)
        .instrument(db::statement_span("INSERT", "inbox"))
        .await
        .map_err(ApplyError::Db)?
        .rows_affected();

        if inserted == 0 {
            tx.commit().await.map_err(ApplyError::Db)?;
            return Ok(Applied::Duplicate);
        }
        // Dropping the transaction on error rolls back the inbox row with the effect.
        self.handler
            .handle(&mut tx, event)
            .await
            .map_err(ApplyError::Handler)?;
        tx.commit().await.map_err(ApplyError::Db)?;
        Ok(Applied::Processed)
    }

    /// Runs `work` while telling JetStream every half `ack_wait` that the message is still
    /// being worked on, so a slow handler does not cause a redelivery.
    async fn with_progress<T>(
        &self,
        message: &jetstream::Message,
        work: impl Future<Output = T>,
    ) -> T {
        let period = (self.settings.ack_wait / 2).max(Duration::from_millis(100));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return output,
                _ = ticker.tick() => {
                    message.ack_with(AckKind::Progress).await.ok();
                }
            }
        }
    }

    async fn handler_failed(&self, message: &jetstream::Message, delivery: &Delivery, text: &str) {
        if delivery.delivered >= u64::from(self.settings.max_deliver) {
            tracing::warn!(
                error = %text,
                "handling the event failed on its last allowed delivery; \
                 moving it to the dead-letter stream"
            );
            self.dead_letter(message, delivery, Reason::HandlerFailed, text)
                .await;
        } else {
            let delay = retry_delay(&self.settings.backoff, delivery.delivered);
            tracing::warn!(
                error = %text,
                retry_in_ms = delay.as_millis() as u64,
                "handling the event failed; retrying"
            );
            nak(message, delay).await;
        }
    }

    /// Publishes the message to the dead-letter stream, then terminates it. If publishing
    /// fails, the message is retried later and reaches this point again.
    pub(super) async fn dead_letter(
        &self,
        message: &jetstream::Message,
        delivery: &Delivery,
        reason: Reason,
        error_text: &str,
    ) {
        let origin = Origin {
            subject: message.subject.as_str(),
            stream: &delivery.stream,
            stream_sequence: delivery.stream_sequence,
            delivered: delivery.delivered,
        };
        let publish = dead_letter::publish(
            &self.jetstream,
            &self.settings,
            message,
            &origin,
            reason,
            error_text,
        );
        match publish.await {
            Ok(()) => {
                if let Err(error) = message.double_ack_with(AckKind::Term).await {
                    tracing::warn!(
                        error = %error_text_of(error.as_ref()),
                        "terminating a dead-lettered message failed; it may be delivered again"
                    );
                }
            }
            Err(error) => {
                let delay = retry_delay(&self.settings.backoff, delivery.delivered);
                tracing::warn!(
                    error = %events::error_text(&error, 1024),
                    retry_in_ms = delay.as_millis() as u64,
                    "publishing a dead letter failed; retrying"
                );
                nak(message, delay).await;
            }
        }
    }

    /// Acknowledges without waiting for JetStream's confirmation: should the acknowledgement
    /// be lost, the redelivered event finds its inbox row and has no second effect.
    pub(super) async fn ack(&self, message: &jetstream::Message) {
        if let Err(error) = message.ack().await {
            tracing::warn!(
                error = %error_text_of(error.as_ref()),
                "acknowledging the event failed; its redelivery will find it in the inbox"
            );
        }
    }
}

fn error_text_of(error: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    error_text(error, 1024)
}

pub(super) async fn nak(message: &jetstream::Message, delay: Duration) {
    if let Err(error) = message.ack_with(AckKind::Nak(Some(delay))).await {
        tracing::warn!(
            error = %error_text_of(error.as_ref()),
            "negatively acknowledging the event failed; it will be redelivered after ack_wait"
        );
    }
}

pub(super) fn delivery(message: &jetstream::Message) -> Option<Delivery> {
    let info = message.info().ok()?;
    Some(Delivery {
        stream: info.stream.to_owned(),
        stream_sequence: info.stream_sequence,
        delivered: info.delivered.unsigned_abs(),
    })
}

pub(super) fn decode(
    message: &jetstream::Message,
    delivery: &Delivery,
) -> Result<ReceivedEvent, Undecodable> {
    let envelope = events::decode_envelope(&message.payload)?;
    let event_id = Uuid::parse_str(&envelope.event_id).map_err(|source| Undecodable::EventId {
        value: envelope.event_id.clone(),
        source,
    })?;
    let traceparent = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(HEADER_TRACEPARENT))
        .map(|value| value.as_str().to_owned());
    Ok(ReceivedEvent {
        envelope,
        event_id,
        subject: message.subject.to_string(),
        stream_sequence: delivery.stream_sequence,
        delivered: delivery.delivered,
        traceparent,
    })
}

/// Returns the span of one event's processing, a child of the producer's trace when the
/// message carries its trace context.
pub(super) fn event_span(durable_name: &str, event: &ReceivedEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "consume event",
        otel.name = %format_args!("process {}", event.subject),
        otel.kind = "consumer",
        consumer = %durable_name,
        event.id = %event.event_id,
        event.r#type = %event.envelope.event_type,
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.destination.name = %event.subject,
        messaging.consumer.group.name = %durable_name,
        messaging.message.id = %event.event_id,
        messaging.subject = %event.subject,
        delivery.attempt = event.delivered,
    );
    if let Some(traceparent) = &event.traceparent
        && let Err(error) = telemetry::set_parent_from_traceparent(&span, traceparent)
    {
        tracing::debug!(
            error = %error_text(&error, 1024),
            "the event's trace context was not applied; tracing it on its own"
        );
    }
    span
}
