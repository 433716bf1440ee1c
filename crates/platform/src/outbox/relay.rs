//! The relay: publishes committed outbox rows to JetStream and marks them published.
//!
//! One relay at a time per outbox. A relay opens a transaction and takes the outbox's
//! transaction-level advisory lock (`pg_try_advisory_xact_lock`). When another replica's relay
//! has it, the round ends at once and publishes nothing. Otherwise the relay reads up to
//! `batch_size` unpublished rows in order of id, publishes them, marks the acknowledged ones
//! published with one `UPDATE` and commits, which releases the lock. So several replicas
//! take turns, each row is published once, in id order, and a published row costs one update
//! and no row lock. A round lasts at most the publish timeout.
//!
//! A relay that dies between a publish and its commit loses its transaction, and with it the
//! lock, so another relay publishes those rows again at once. JetStream drops the copy because
//! its `Nats-Msg-Id` (the event id) arrived within the stream's duplicate window (2 minutes),
//! which the publish timeout stays well below. Consumers de-duplicate by event id too, through
//! their inbox.
//!
//! Wake-ups. A separate connection listens on the outbox's notification channel, so a commit
//! wakes the relay at once. A fallback poll covers notifications lost while it reconnects.
//! While NATS or Postgres is unreachable the relay retries with exponential backoff, logging
//! each retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishError, message::PublishMessage};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::listener::listen_for_commits;
use super::maintenance::prune_published;
use crate::clock::SharedClock;
use crate::db::DbError;
use crate::events::error_text;
use crate::events::{CONTENT_TYPE, EventsSettings, HEADER_CONTENT_TYPE, HEADER_TRACEPARENT};

/// Settings of a relay: batch size, timeouts, retry delays and pruning.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Rows read and published per round.
    pub batch_size: u32,
    /// Maximum wait between two reads of the outbox when no notification arrives.
    pub poll_interval: Duration,
    /// Limit for publishing one batch and receiving its acknowledgements, which is also how
    /// long a round keeps the outbox's turn. Keep it well below the stream's duplicate window.
    pub publish_timeout: Duration,
    /// First delay after a failed round, doubled per failure up to `max_retry_delay`.
    pub min_retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// How long published rows stay in the outbox before pruning deletes them.
    pub retention: Duration,
    /// Time between two prunings.
    pub prune_interval: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(10),
            min_retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
            prune_interval: Duration::from_secs(10 * 60),
        }
    }
}

/// Counters of one relay, shared with its clones, for metrics.
#[derive(Debug, Clone, Default)]
pub struct RelayStats {
    published: Arc<AtomicU64>,
    duplicates: Arc<AtomicU64>,
    failed_rounds: Arc<AtomicU64>,
}

impl RelayStats {
    /// Events this relay published and marked.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Publishes JetStream acknowledged as duplicates of an earlier message.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Rounds that failed and were retried.
    pub fn failed_rounds(&self) -> u64 {
        self.failed_rounds.load(Ordering::Relaxed)
    }
}

/// A failed round of the relay, which the relay retries.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("reading or marking outbox rows failed")]
    Db(#[from] DbError),

    #[error("publishing event {event_id} on {subject} failed")]
    Publish {
        event_id: Uuid,
        subject: String,
        #[source]
        source: PublishError,
    },

    #[error("JetStream did not acknowledge event {event_id} on {subject} within {timeout:?}")]
    Timeout {
        event_id: Uuid,
        subject: String,
        timeout: Duration,
    },
}

/// Publishes the outbox of one service schema to JetStream.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    clock: SharedClock,
    stream: String,
    settings: RelaySettings,
    stats: RelayStats,
}

struct UnpublishedRow {
    id: Uuid,
    subject: String,
    envelope: Vec<u8>,
    traceparent: Option<String>,
}

struct RoundOutcome {
    published: Vec<Uuid>,
    error: Option<RelayError>,
}

impl Relay {
    /// Creates a relay for the outbox in `pool`'s schema, publishing to `events.stream`.
    /// Times for marks and pruning come from `clock`.
    pub fn new(
        pool: PgPool,
        jetstream: jetstream::Context,
        clock: SharedClock,
        events: &EventsSettings,
        settings: RelaySettings,
    ) -> Self {
        Self {
            pool,
            jetstream,
            clock,
            stream: events.stream.clone(),
            settings,
            stats: RelayStats::default(),
        }
    }

    /// Returns the counters of this relay and its clones.
    pub fn stats(&self) -> RelayStats {
        self.stats.clone()
    }

    /// Publishes until `shutdown` is cancelled, then returns after the round in progress.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(stream.name = %self.stream, "outbox relay started");
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen_for_commits(
            self.pool.clone(),
            Arc::clone(&wake),
            self.settings.poll_interval,
            shutdown.child_token(),
        ));

        let mut failures = 0;
        let mut next_prune = Instant::now();
        while !shutdown.is_cancelled() {
            if Instant::now() >= next_prune {
                self.prune().await;
                next_prune = Instant::now() + self.settings.prune_interval;
            }
            let wait = match self.publish_batch().await {
                Ok(count) if count < self.settings.batch_size as usize => {
                    failures = 0;
                    self.settings.poll_interval
                }
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(error) => {
                    failures += 1;
                    self.retry_delay(&error, failures)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = wake.notified(), if failures == 0 => {}
                () = tokio::time::sleep(wait) => {}
            }
        }

        listener.abort();
        tracing::info!(stream.name = %self.stream, "outbox relay stopped");
    }

    /// Takes the outbox's turn, reads up to `batch_size` rows, publishes them, marks those
    /// JetStream acknowledged and commits. Returns how many were published: none when another
    /// relay has the turn. An error means some rows were not, and the next round takes them
    /// up again.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await.map_err(DbError::from)?;
        if !take_turn(&mut tx).await? {
            // Another relay is publishing this outbox, and its commit wakes this one again.
            tx.commit().await.map_err(DbError::from)?;
            return Ok(0);
        }
        let rows = read_unpublished(&mut tx, self.settings.batch_size).await?;
        if rows.is_empty() {
            tx.commit().await.map_err(DbError::from)?;
            return Ok(0);
        }

        let outcome = self.publish(&rows).await;
        if !outcome.published.is_empty() {
            sqlx::query("UPDATE outbox SET published_at = $1 WHERE id = ANY($2)")
                .bind(self.clock.now())
                .bind(&outcome.published)
                .execute(&mut *tx)
                .await
                .map_err(DbError::from)?;
        }
        tx.commit().await.map_err(DbError::from)?;

        let published = outcome.published.len();
        self.stats
            .published
            .fetch_add(published as u64, Ordering::Relaxed);
        tracing::debug!(events.published = published, "published outbox events");
        match outcome.error {
            Some(error) => Err(error),
            None => Ok(published),
        }
    }

    /// Sends every row, then awaits the acknowledgements, all within one deadline. Stops
    /// sending at the first failure, since NATS is then most likely unreachable.
    async fn publish(&self, rows: &[UnpublishedRow]) -> RoundOutcome {
        let deadline = Instant::now() + self.settings.publish_timeout;
        let mut pending = Vec::with_capacity(rows.len());
        let mut error = None;
        for row in rows {
            let send = self
                .jetstream
                .send_publish(row.subject.clone(), self.message(row));
            match tokio::time::timeout_at(deadline, send).await {
                Ok(Ok(ack)) => pending.push((row, ack)),
                Ok(Err(source)) => {
                    error = Some(publish_error(row, source));
                    break;
                }
                Err(_) => {
                    error = Some(self.timeout_error(row));
                    break;
                }
            }
        }

        let mut published = Vec::with_capacity(pending.len());
        for (row, ack) in pending {
            match tokio::time::timeout_at(deadline, ack).await {
                Ok(Ok(ack)) => {
                    if ack.duplicate {
                        self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    published.push(row.id);
                }
                Ok(Err(source)) => {
                    error.get_or_insert_with(|| publish_error(row, source));
                }
                Err(_) => {
                    error.get_or_insert_with(|| self.timeout_error(row));
                }
            }
        }

        RoundOutcome { published, error }
    }

    fn message(&self, row: &UnpublishedRow) -> PublishMessage {
        let message = PublishMessage::build()
            .payload(row.envelope.clone().into())
            .message_id(row.id.to_string())
            .expected_stream(&self.stream)
            .header(HEADER_CONTENT_TYPE, CONTENT_TYPE);
        match &row.traceparent {
            Some(traceparent) => message.header(HEADER_TRACEPARENT, traceparent.as_str()),
            None => message,
        }
    }

    fn timeout_error(&self, row: &UnpublishedRow) -> RelayError {
        RelayError::Timeout {
            event_id: row.id,
            subject: row.subject.clone(),
            timeout: self.settings.publish_timeout,
        }
    }

    async fn prune(&self) {
        let cutoff = self.clock.now() - self.settings.retention;
        match prune_published(&self.pool, cutoff).await {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::info!(outbox.pruned = deleted, "pruned published outbox events")
            }
            Err(error) => tracing::warn!(
                error = %error_text(&error, 1024),
                "pruning published outbox events failed; trying again at the next interval"
            ),
        }
    }

    fn retry_delay(&self, error: &RelayError, failures: u32) -> Duration {
        self.stats.failed_rounds.fetch_add(1, Ordering::Relaxed);
        let exponent = failures.saturating_sub(1).min(16);
        let delay = self
            .settings
            .min_retry_delay
            .saturating_mul(1 << exponent)
            .min(self.settings.max_retry_delay);
        tracing::warn!(
            error = %error_text(error, 1024),
            attempt = failures,
            retry_in_ms = delay.as_millis() as u64,
            "publishing outbox events failed; retrying"
        );
        delay
    }
}

/// Takes the advisory lock of the schema's outbox for the round's transaction `conn`, unless
/// another relay holds it. Returns whether it was taken.
async fn take_turn(conn: &mut PgConnection) -> Result<bool, DbError> {
    let taken = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(
                    hashtextextended('certitude.outbox-relay.' || current_schema(), 0))",
    )
    .fetch_one(conn)
    .await?;
    Ok(taken)
}

/// Reads up to `limit` unpublished rows in id (creation) order, inside the round's
/// transaction `conn`, which has the outbox's turn.
async fn read_unpublished(
    conn: &mut PgConnection,
    limit: u32,
) -> Result<Vec<UnpublishedRow>, DbError> {
    let rows: Vec<(Uuid, String, Vec<u8>, Option<String>)> = sqlx::query_as(
        "SELECT id, subject, envelope, traceparent FROM outbox
         WHERE published_at IS NULL
         ORDER BY id
         LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, subject, envelope, traceparent)| UnpublishedRow {
            id,
            subject,
            envelope,
            traceparent,
        })
        .collect())
}

fn publish_error(row: &UnpublishedRow, source: PublishError) -> RelayError {
    RelayError::Publish {
        event_id: row.id,
        subject: row.subject.clone(),
        source,
    }
}
