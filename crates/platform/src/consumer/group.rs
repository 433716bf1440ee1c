//! Processing of several waiting messages in one transaction.
//!
//! When more than one message of a pull is already received, the consumer records all their
//! events in the inbox with one statement. It applies each new one with the handler in that
//! same transaction, commits once and then acknowledges every message. Events the inbox already had
//! are acknowledged without effect, as in the one-message path.
//!
//! A handler error rolls back the whole group, because its other effects cannot be separated
//! from the failed one's. The group's messages are then processed again one at a time, so the
//! failing event alone is retried or dead-lettered and the others commit. A Postgres failure
//! around the handlers negatively acknowledges every message with the retry delay.
//!
//! A group holds the row locks of all its events until its commit. Where two transactions
//! lock the same rows in different orders, Postgres ends one of them with a deadlock error.
//! The consumer handles that group as any failed group: one at a time or retried later.

use std::collections::HashSet;

use async_nats::jetstream::{self, AckKind};
use futures::future::join_all;
use tracing::Instrument;
use uuid::Uuid;

use super::dead_letter::retry_delay;
use super::process::{Delivery, decode, delivery, event_span, nak};
use super::{BoxError, Consumer, EventHandler, ReceivedEvent};
use crate::db;
use crate::events::error_text;

/// A decoded message of a group.
struct Member {
    message: jetstream::Message,
    event: ReceivedEvent,
    delivery: Delivery,
}

/// Failure of applying a group.
enum GroupError {
    /// A handler failed on `event_id` (the batch's first event when the handler applied the
    /// batch at once): the group is processed again one message at a time.
    Handler { event_id: Uuid, error: BoxError },
    /// Postgres failed: every message is retried later.
    Db(sqlx::Error),
}

impl<H: EventHandler> Consumer<H> {
    /// Processes `messages`, received together, to their end. A single message takes the
    /// one-message path.
    pub(super) async fn process_group(&self, messages: Vec<jetstream::Message>) {
        if messages.len() == 1 {
            for message in messages {
                self.process(message).await;
            }
            return;
        }

        let mut members = Vec::with_capacity(messages.len());
        for message in messages {
            let Some(delivery) = delivery(&message) else {
                // The one-message path logs and ignores it.
                self.process(message).await;
                continue;
            };
            match decode(&message, &delivery) {
                Ok(event) => members.push(Member {
                    message,
                    event,
                    delivery,
                }),
                Err(error) => self.reject_undecodable(&message, &delivery, &error).await,
            }
        }
        if members.is_empty() {
            return;
        }

        let messages: Vec<&jetstream::Message> = members.iter().map(|m| &m.message).collect();
        match self
            .with_progress_of(&messages, self.apply_group(&members))
            .await
        {
            Ok(applied) => {
                tracing::debug!(
                    consumer = %self.settings.durable_name,
                    events.received = members.len(),
                    events.applied = applied,
                    "processed a group of events in one transaction"
                );
                join_all(members.iter().map(|member| self.ack(&member.message))).await;
            }
            Err(GroupError::Handler { event_id, error }) => {
                tracing::debug!(
                    consumer = %self.settings.durable_name,
                    event.id = %event_id,
                    error = %error_text(error.as_ref(), 1024),
                    events.received = members.len(),
                    "an event of the group failed; processing the group one event at a time"
                );
                for member in &members {
                    let span = event_span(&self.settings.durable_name, &member.event);
                    self.process_event(&member.message, &member.event, &member.delivery)
                        .instrument(span)
                        .await;
                }
            }
            Err(GroupError::Db(error)) => {
                let delivered = members.iter().map(|m| m.delivery.delivered).min();
                let delay = retry_delay(&self.settings.backoff, delivered.unwrap_or(1));
                tracing::warn!(
                    consumer = %self.settings.durable_name,
                    error = %error_text(&error, 1024),
                    events.received = members.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    "recording a group of events failed in Postgres; retrying"
                );
                join_all(members.iter().map(|member| nak(&member.message, delay))).await;
            }
        }
    }

    /// Records every member in the inbox and applies the new ones, in one transaction.
    /// Returns how many were applied.
    async fn apply_group(&self, members: &[Member]) -> Result<usize, GroupError> {
        let mut tx = self.pool.begin().await.map_err(GroupError::Db)?;
        let event_ids: Vec<Uuid> = members.iter().map(|m| m.event.event_id).collect();
        let subjects: Vec<&str> = members.iter().map(|m| m.event.subject.as_str()).collect();
        let sequences: Vec<i64> = members
            .iter()
            .map(|m| i64::try_from(m.event.stream_sequence).unwrap_or(i64::MAX))
            .collect();
        let inserted: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO inbox (consumer, event_id, subject, stream_sequence, processed_at)
             SELECT $1, event_id, subject, stream_sequence, $5
             FROM unnest($2::uuid[], $3::text[], $4::bigint[])
                  AS received (event_id, subject, stream_sequence)
             ON CONFLICT (consumer, event_id) DO NOTHING
             RETURNING event_id",
        )
        .bind(&self.settings.durable_name)
        .bind(&event_ids)
        .bind(&subjects)
        .bind(&sequences)
        .bind(self.clock.now())
        .fetch_all(&mut *tx)
        .instrument(db::statement_span("INSERT", "inbox"))
        .await
        .map_err(GroupError::Db)?;

        // Each new event once, in the order received; a repeated or known id is skipped.
        let mut new: HashSet<Uuid> = inserted.into_iter().collect();
        let events: Vec<&ReceivedEvent> = members
            .iter()
            .map(|member| &member.event)
            .filter(|event| new.remove(&event.event_id))
            .collect();
        let applied = events.len();
        if self.handler.handles_batches() {
            let span = tracing::info_span!(
                "consume events",
                consumer = %self.settings.durable_name,
                events.count = applied,
            );
            self.handler
                .handle_batch(&mut tx, &events)
                .instrument(span)
                .await
                .map_err(|error| GroupError::Handler {
                    event_id: events.first().map_or(Uuid::nil(), |event| event.event_id),
                    error,
                })?;
        } else {
            for event in events {
                let span = event_span(&self.settings.durable_name, event);
                self.handler
                    .handle(&mut tx, event)
                    .instrument(span)
                    .await
                    .map_err(|error| GroupError::Handler {
                        event_id: event.event_id,
                        error,
                    })?;
            }
        }
        tx.commit().await.map_err(GroupError::Db)?;
        Ok(applied)
    }

    /// Runs `work` while reporting progress on every message of the group, as
    /// [`Consumer::with_progress`] does for one.
    async fn with_progress_of<T>(
        &self,
        messages: &[&jetstream::Message],
        work: impl Future<Output = T>,
    ) -> T {
        let period = (self.settings.ack_wait / 2).max(std::time::Duration::from_millis(100));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return output,
                _ = ticker.tick() => {
                    join_all(messages.iter().map(|m| m.ack_with(AckKind::Progress))).await;
                }
            }
        }
    }
}
