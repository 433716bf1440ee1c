//! The handler interface of a consumer and the event it receives.

use std::future::Future;

use certitude_proto::events::v1::Envelope;
use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::events::{self, EnvelopeError, Event};

/// Error returned by a handler. Its text (with causes) goes into the dead-letter headers, so
/// it must not contain secrets.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An event delivered to a handler, with its delivery facts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub envelope: Envelope,
    /// The envelope's event id, parsed.
    pub event_id: Uuid,
    /// Subject the message was published on.
    pub subject: String,
    /// Position of the message in the stream.
    pub stream_sequence: u64,
    /// Delivery attempt, from 1.
    pub delivered: u64,
    /// W3C trace context of the producing transaction, from the message headers.
    pub traceparent: Option<String>,
}

impl ReceivedEvent {
    /// Decodes the payload as `M`, checking that the event is of `M`'s type.
    pub fn payload<M: Event>(&self) -> Result<M, EnvelopeError> {
        events::decode_payload(&self.envelope)
    }
}

/// Applies the effect of events.
///
/// [`handle`](Self::handle) runs inside the transaction that also records the event in the
/// inbox: the effect and the record commit together or not at all. An error rolls both back
/// and the event is retried later, up to the consumer's `max_deliver` attempts.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event`'s effect using `conn`, which is inside the inbox transaction.
    fn handle(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Tells whether [`handle_batch`](Self::handle_batch) applies several events with fewer
    /// statements than one `handle` call each. When it returns false, the consumer calls
    /// `handle` for each event of a group, each in its own span.
    fn handles_batches(&self) -> bool {
        false
    }

    /// Applies `events`, in stream order, using `conn`, which is inside the transaction that
    /// records them all in the inbox. An error rolls back every effect of the batch, and the
    /// consumer then processes the events again one at a time. The default calls `handle`
    /// for each.
    fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            for event in events {
                self.handle(conn, event).await?;
            }
            Ok(())
        }
    }
}

/// An [`EventHandler`] made from a closure by [`handler_fn`].
#[derive(Debug, Clone)]
pub struct FnHandler<F>(F);

/// Turns a closure returning a boxed future into an [`EventHandler`]:
/// `handler_fn(|conn, event| Box::pin(async move { ... }))`.
pub fn handler_fn<F>(function: F) -> FnHandler<F>
where
    F: for<'a> Fn(&'a mut PgConnection, &'a ReceivedEvent) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync
        + 'static,
{
    FnHandler(function)
}

impl<F> EventHandler for FnHandler<F>
where
    F: for<'a> Fn(&'a mut PgConnection, &'a ReceivedEvent) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync
        + 'static,
{
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        (self.0)(conn, event).await
    }
}
