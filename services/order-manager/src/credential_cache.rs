//! Dropping cached Entrust clients when credential-sync reports that a credential changed.
//!
//! Every order-manager process caches its own Entrust clients, so every process must see every
//! CredentialUpdated and CredentialRemoved event. Each process therefore reads the two subjects
//! through JetStream ordered consumers of its own: ephemeral, without acknowledgements, one per
//! subject because NATS 2.9 allows one filter subject per consumer. They start with the first
//! event published after their creation. Each event calls [`CredentialSource::forget`], so the
//! next Entrust call resolves the credential again and uses the new API key or client
//! certificate, or finds the credential gone.
//!
//! Forgetting is idempotent, so an event seen twice does no harm and no inbox is kept. That
//! matters because async-nats (0.52) recreates an ordered consumer after missed heartbeats or a
//! deletion, and one recreated before its first message replays the subject from the start.
//! The server deletes the consumers 30 seconds after the process stops pulling.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use certitude_platform::events::{self, Event, EventsSettings};
use certitude_platform::service::{BoxError, ServiceTasks};
use certitude_platform::shutdown::Shutdown;
use certitude_proto::events::v1::{CredentialRemoved, CredentialUpdated};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::poller::error_chain;
use crate::sources::CredentialSource;

/// An ordered consumer of credential events that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CacheConsumerError {
    /// The event stream is missing, or the request for it failed.
    #[error("event stream {stream} is not available; check CERTITUDE_EVENT_STREAM and NATS")]
    Stream {
        stream: String,
        #[source]
        source: jetstream::context::GetStreamError,
    },

    /// NATS rejected the ordered consumer.
    #[error("creating an ordered consumer of {subject} on stream {stream} failed")]
    Create {
        stream: String,
        subject: String,
        #[source]
        source: jetstream::stream::ConsumerError,
    },

    /// The ordered consumer was created but its message stream could not be opened.
    #[error("pulling from the ordered consumer of {subject} failed")]
    Messages {
        subject: String,
        #[source]
        source: jetstream::consumer::StreamError,
    },

    /// The message stream ended while the service was running, so later events would be lost.
    #[error("the ordered consumer of {subject} stopped delivering; restart order-manager")]
    Ended { subject: String },
}

/// The ordered consumers of CredentialUpdated and CredentialRemoved of this process.
pub(crate) struct CacheConsumers {
    updated: CacheConsumer<CredentialUpdated>,
    removed: CacheConsumer<CredentialRemoved>,
}

impl CacheConsumers {
    /// Creates both consumers on `events`' stream. Every event published after this returns
    /// reaches them, even before [`CacheConsumers::spawn`] runs.
    ///
    /// # Errors
    /// Fails when the stream is missing or NATS rejects a consumer.
    pub(crate) async fn create(
        jetstream: &jetstream::Context,
        events: &EventsSettings,
        credentials: Arc<dyn CredentialSource>,
    ) -> Result<Self, CacheConsumerError> {
        let stream = jetstream
            .get_stream(&events.stream)
            .await
            .map_err(|source| CacheConsumerError::Stream {
                stream: events.stream.clone(),
                source,
            })?;
        Ok(Self {
            updated: CacheConsumer::create(&stream, events, Arc::clone(&credentials)).await?,
            removed: CacheConsumer::create(&stream, events, credentials).await?,
        })
    }

    /// Spawns both consumers into `tasks`, where they run until `stop` fires.
    pub(crate) fn spawn(self, tasks: &mut ServiceTasks, stop: &Shutdown) {
        let updated_stop = stop.token();
        tasks.spawn("credential-updated-consumer", async move {
            self.updated.run(updated_stop).await?;
            Ok(())
        });
        let removed_stop = stop.token();
        tasks.spawn("credential-removed-consumer", async move {
            self.removed.run(removed_stop).await?;
            Ok(())
        });
    }
}

/// An event that names a credential whose cached client must go.
trait CredentialEvent: Event + Send + 'static {
    fn credential_id(&self) -> &str;
}

impl CredentialEvent for CredentialUpdated {
    fn credential_id(&self) -> &str {
        &self.credential_id
    }
}

impl CredentialEvent for CredentialRemoved {
    fn credential_id(&self) -> &str {
        &self.credential_id
    }
}

/// The ordered consumer of the subject of `M`, and the source whose cache it clears.
struct CacheConsumer<M> {
    subject: String,
    messages: Ordered,
    credentials: Arc<dyn CredentialSource>,
    event: PhantomData<fn() -> M>,
}

impl<M: CredentialEvent> CacheConsumer<M> {
    async fn create(
        stream: &jetstream::stream::Stream,
        events: &EventsSettings,
        credentials: Arc<dyn CredentialSource>,
    ) -> Result<Self, CacheConsumerError> {
        let subject = M::TYPE.subject(&events.subject_prefix);
        let config = OrderedConfig {
            filter_subject: subject.clone(),
            deliver_policy: DeliverPolicy::New,
            ..OrderedConfig::default()
        };
        let consumer =
            stream
                .create_consumer(config)
                .await
                .map_err(|source| CacheConsumerError::Create {
                    stream: events.stream.clone(),
                    subject: subject.clone(),
                    source,
                })?;
        let messages =
            consumer
                .messages()
                .await
                .map_err(|source| CacheConsumerError::Messages {
                    subject: subject.clone(),
                    source,
                })?;
        Ok(Self {
            subject,
            messages,
            credentials,
            event: PhantomData,
        })
    }

    /// Forgets the credential of each event until `stop` is cancelled. An error from the
    /// message stream is logged, and receiving resumes after a backoff delay. Missed heartbeats
    /// and a deleted consumer need no handling here, because async-nats recreates the consumer.
    async fn run(mut self, stop: CancellationToken) -> Result<(), BoxError> {
        tracing::info!(subject = %self.subject, "credential cache consumer started");
        let mut failures = 0_u32;
        loop {
            let next = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                next = self.messages.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    failures = 0;
                    self.forget(&message.payload);
                }
                Some(Err(error)) => {
                    failures += 1;
                    let delay = retry_delay(failures);
                    tracing::warn!(
                        subject = %self.subject, attempt = failures,
                        retry_in_ms = delay.as_millis() as u64, error = %error_chain(&error),
                        "receiving credential events failed; receiving again"
                    );
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                None => {
                    let subject = self.subject.clone();
                    return Err(CacheConsumerError::Ended { subject }.into());
                }
            }
        }
        tracing::info!(subject = %self.subject, "credential cache consumer stopped");
        Ok(())
    }

    /// Decodes an event and forgets its credential. An undecodable event is logged and skipped.
    fn forget(&self, body: &[u8]) {
        let decoded = events::decode_envelope(body).and_then(|envelope| {
            let payload = events::decode_payload::<M>(&envelope)?;
            Ok((envelope.event_id, payload))
        });
        let (event_id, payload) = match decoded {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(
                    subject = %self.subject, error = %error_chain(&error),
                    "skipped a credential event that does not decode"
                );
                return;
            }
        };

        let credential_id = payload.credential_id();
        self.credentials.forget(credential_id);
        tracing::info!(
            credential.id = credential_id,
            event.id = %event_id,
            "credential {credential_id} was {}; dropped its cached Entrust client",
            M::TYPE.name
        );
    }
}

/// Delay before receiving again after the `failures`-th error in a row: 200 ms doubling up to
/// 25.6 s, so a lasting failure does not flood the log.
fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis(200 << failures.saturating_sub(1).min(7))
}
