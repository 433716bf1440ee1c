//! The durable pull consumer: each event's effect and its inbox record in one transaction,
//! acknowledged after the commit, dead-lettered after repeated failure.
//!
//! [`run_consumer`] pulls messages of one filter subject (NATS 2.9 allows one per consumer)
//! from a durable consumer shared by every replica of the service. For each message it begins
//! a transaction and inserts `(consumer, event id)` into the `inbox` table with
//! `ON CONFLICT DO NOTHING`. When the row already exists the event was processed before: it
//! commits and acknowledges without calling the handler. Otherwise it calls the handler in the
//! same transaction, commits, then acknowledges. A redelivered or republished event thus has no
//! second effect. Messages that arrive together share one transaction, up to `group_size` of
//! them (see [`group`]), so a backlog costs one commit per group instead of one per event.
//!
//! On a handler error the transaction rolls back and the message is negatively acknowledged
//! with the delay of `backoff` for that attempt. When the failing attempt is the
//! `max_deliver`-th, the message is published to the dead-letter stream with headers naming its
//! origin and the error (see [`dead_letter`]), then terminated, so it is never redelivered. A
//! message that does not decode goes to the dead-letter stream at once.
//!
//! Table (in the service schema, created by [`crate::db::migrate`]):
//! `inbox (consumer, event_id uuid, subject, stream_sequence bigint, processed_at)`, primary
//! key `(consumer, event_id)`.

pub mod dead_letter;
mod group;
mod handler;
mod process;

use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use futures::{FutureExt, StreamExt};
use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::events::{EventsSettings, error_text};

pub use handler::{BoxError, EventHandler, FnHandler, ReceivedEvent, handler_fn};

/// Settings of one durable consumer: what it pulls, how it retries and when it gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// Stream to consume.
    pub stream: String,
    /// Durable consumer name, shared by the service's replicas and stored in the inbox's
    /// `consumer` column. It must be one subject token, without `.`, `*`, `>` or whitespace.
    pub durable_name: String,
    /// The one subject this consumer receives, such as `certs.v1.order.created`.
    pub filter_subject: String,
    /// Stream and subject prefix of dead letters.
    pub dead_letter_stream: String,
    pub dead_letter_prefix: String,
    /// Deliveries of a message before a failure sends it to the dead-letter stream, 1 or more.
    pub max_deliver: u32,
    /// How long JetStream waits for an acknowledgement before it redelivers. While the
    /// handler runs, the consumer reports progress every half of this.
    pub ack_wait: Duration,
    /// Delay before the next attempt after the n-th failed one. The last entry repeats.
    pub backoff: Vec<Duration>,
    /// Messages requested per pull.
    pub batch_size: usize,
    /// Maximum events applied in one transaction. Messages already received when one is
    /// taken up are applied together, up to this many, with one commit; 1 applies each in a
    /// transaction of its own.
    pub group_size: usize,
    /// How long one pull request waits for messages.
    pub pull_expires: Duration,
    /// Pulls in progress at once in this process, 1 or more. Each applies its own messages,
    /// as another replica would, so one can wait on Postgres while another decodes and checks.
    pub concurrency: usize,
    /// How long inbox rows are kept. Keep it at least as long as the stream keeps messages.
    pub inbox_retention: Duration,
}

impl ConsumerSettings {
    /// Settings for the durable consumer `durable_name` of `filter_subject` on `events`'
    /// streams: 5 deliveries at most, 30 s ack wait, backoff 1 s, 5 s, 30 s, 2 min, pulls of
    /// 10 messages, inbox rows kept as long as the stream keeps events.
    pub fn new(
        events: &EventsSettings,
        durable_name: impl Into<String>,
        filter_subject: impl Into<String>,
    ) -> Self {
        Self {
            stream: events.stream.clone(),
            durable_name: durable_name.into(),
            filter_subject: filter_subject.into(),
            dead_letter_stream: events.dead_letter_stream.clone(),
            dead_letter_prefix: events.dead_letter_prefix.clone(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
            backoff: [1, 5, 30, 120].map(Duration::from_secs).to_vec(),
            batch_size: 100,
            group_size: 100,
            pull_expires: Duration::from_secs(5),
            concurrency: 1,
            inbox_retention: events.max_age,
        }
    }

    fn validate(&self) -> Result<(), ConsumerError> {
        let durable_is_token = !self.durable_name.is_empty()
            && self
                .durable_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let invalid = |field: &'static str, value: String, expected: &'static str| {
            Err(ConsumerError::InvalidSettings {
                field,
                value,
                expected,
            })
        };
        if !durable_is_token {
            return invalid(
                "durable_name",
                self.durable_name.clone(),
                "letters, digits, - and _",
            );
        }
        if self.filter_subject.is_empty() || self.filter_subject.contains(char::is_whitespace) {
            return invalid("filter_subject", self.filter_subject.clone(), "one subject");
        }
        if self.max_deliver == 0 {
            return invalid("max_deliver", "0".to_owned(), "1 or more");
        }
        if self.concurrency == 0 {
            return invalid("concurrency", "0".to_owned(), "1 or more");
        }
        if self.batch_size == 0 {
            return invalid("batch_size", "0".to_owned(), "1 or more");
        }
        if self.group_size == 0 {
            return invalid("group_size", "0".to_owned(), "1 or more");
        }
        Ok(())
    }

    fn consumer_config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.durable_name.clone()),
            filter_subject: self.filter_subject.clone(),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            // The consumer counts deliveries itself (see `process`): the server must keep
            // redelivering while a failure is due to Postgres or NATS rather than the handler.
            max_deliver: -1,
            ..pull::Config::default()
        }
    }
}

/// A consumer that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("invalid consumer setting {field} = {value:?}: expected {expected}")]
    InvalidSettings {
        field: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error("stream {stream} is not available; create it with events::ensure_streams")]
    Stream {
        stream: String,
        #[source]
        source: jetstream::context::GetStreamError,
    },

    #[error("creating durable consumer {durable_name} on stream {stream} failed")]
    Create {
        stream: String,
        durable_name: String,
        #[source]
        source: jetstream::stream::ConsumerError,
    },
}

/// Everything the processing of one message needs.
struct Consumer<H> {
    jetstream: jetstream::Context,
    pool: PgPool,
    clock: SharedClock,
    settings: ConsumerSettings,
    handler: H,
}

/// Creates (or reuses) the durable consumer and processes its messages until `shutdown` is
/// cancelled, several in one transaction when they arrive together (see [`group`]).
///
/// On shutdown it stops pulling and finishes the messages in progress. Messages it received
/// but had not started go back to JetStream at once (negative acknowledgement without delay),
/// so only finished messages are acknowledged. Fails only when the settings are invalid or the
/// consumer cannot be created. Later NATS or Postgres failures are logged and retried.
pub async fn run_consumer<H: EventHandler>(
    jetstream: jetstream::Context,
    pool: PgPool,
    clock: SharedClock,
    settings: ConsumerSettings,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), ConsumerError> {
    settings.validate()?;
    let stream = jetstream
        .get_stream(&settings.stream)
        .await
        .map_err(|source| ConsumerError::Stream {
            stream: settings.stream.clone(),
            source,
        })?;
    let pull_consumer = stream
        .create_consumer(settings.consumer_config())
        .await
        .map_err(|source| ConsumerError::Create {
            stream: settings.stream.clone(),
            durable_name: settings.durable_name.clone(),
            source,
        })?;

    let consumer = Consumer {
        jetstream,
        pool,
        clock,
        settings,
        handler,
    };
    let pulls =
        (0..consumer.settings.concurrency).map(|_| consumer.pull_until(&pull_consumer, &shutdown));
    futures::future::join_all(pulls).await;
    Ok(())
}

impl<H: EventHandler> Consumer<H> {
    async fn pull_until(
        &self,
        pull_consumer: &jetstream::consumer::PullConsumer,
        shutdown: &CancellationToken,
    ) {
        let durable = self.settings.durable_name.as_str();
        tracing::info!(consumer = durable, subject = %self.settings.filter_subject, "event consumer started");
        let mut failures = 0_u32;
        let mut next_prune = Instant::now();

        while !shutdown.is_cancelled() {
            if Instant::now() >= next_prune {
                self.prune_inbox().await;
                next_prune = Instant::now() + Duration::from_secs(60 * 60);
            }
            let request = pull_consumer
                .batch()
                .max_messages(self.settings.batch_size)
                .expires(self.settings.pull_expires)
                .messages();
            let batch = tokio::select! {
                () = shutdown.cancelled() => break,
                batch = request => batch,
            };
            match batch {
                Ok(batch) => {
                    failures = 0;
                    self.drain(batch, shutdown).await;
                }
                Err(error) => {
                    failures += 1;
                    let delay = Duration::from_millis(200 << (failures - 1).min(7));
                    tracing::warn!(
                        consumer = durable,
                        error = %error_text(&error, 1024),
                        attempt = failures,
                        retry_in_ms = delay.as_millis() as u64,
                        "pulling events failed; retrying"
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        // Acknowledgements are sent without waiting for a reply, so the last ones are flushed
        // before the connection may close.
        if let Err(error) = self.jetstream.client().flush().await {
            tracing::warn!(
                consumer = durable,
                error = %error_text(&error, 1024),
                "sending the last acknowledgements failed; those events will be delivered again"
            );
        }
        tracing::info!(consumer = durable, "event consumer stopped");
    }

    /// Processes the messages of one pull. On shutdown it hands back the ones not started.
    async fn drain(&self, mut batch: pull::Batch, shutdown: &CancellationToken) {
        loop {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    return_unstarted(&mut batch).await;
                    return;
                }
                next = batch.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    let (group, ended) = self.take_received(message, &mut batch);
                    self.process_group(group).await;
                    if ended {
                        return;
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(
                        consumer = %self.settings.durable_name,
                        error = %error_text(error.as_ref(), 1024),
                        "receiving events failed; pulling again"
                    );
                    return;
                }
                None => return,
            }
        }
    }

    /// Returns `first` with the messages of `batch` already received, up to `group_size`,
    /// and whether the batch ended.
    fn take_received(
        &self,
        first: jetstream::Message,
        batch: &mut pull::Batch,
    ) -> (Vec<jetstream::Message>, bool) {
        let mut group = vec![first];
        while group.len() < self.settings.group_size {
            match batch.next().now_or_never() {
                Some(Some(Ok(message))) => group.push(message),
                Some(Some(Err(error))) => {
                    tracing::warn!(
                        consumer = %self.settings.durable_name,
                        error = %error_text(error.as_ref(), 1024),
                        "receiving events failed; pulling again"
                    );
                    return (group, true);
                }
                Some(None) => return (group, true),
                None => break,
            }
        }
        (group, false)
    }

    async fn prune_inbox(&self) {
        let cutoff = self.clock.now() - self.settings.inbox_retention;
        let result = sqlx::query("DELETE FROM inbox WHERE consumer = $1 AND processed_at < $2")
            .bind(&self.settings.durable_name)
            .bind(cutoff)
            .execute(&self.pool)
            .await;
        if let Err(error) = result {
            tracing::warn!(
                consumer = %self.settings.durable_name,
                error = %error_text(&error, 1024),
                "pruning the inbox failed; trying again in an hour"
            );
        }
    }
}

/// Hands back, without delay, the messages already received in `batch` but not started.
async fn return_unstarted(batch: &mut pull::Batch) {
    while let Some(Some(Ok(message))) = batch.next().now_or_never() {
        message.ack_with(jetstream::AckKind::Nak(None)).await.ok();
    }
}
