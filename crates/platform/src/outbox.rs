//! The transactional outbox: events written in the caller's transaction, published by a relay.
//!
//! A producer calls [`Outbox::enqueue`] inside the transaction that changes its state. The
//! event row (id, subject, per-aggregate sequence, encoded envelope, trace context) commits or
//! rolls back with that change, so no event is lost and none describes a change that never
//! happened. The [`Relay`] then publishes committed rows to JetStream and marks them published.
//!
//! Tables (in the service schema, created by [`crate::db::migrate`]):
//! - `outbox (id uuid pk, subject, event_type, aggregate_type, aggregate_id, sequence bigint,
//!   envelope bytea, traceparent, created_at, published_at)`
//! - `outbox_sequences (aggregate_type, aggregate_id, last_sequence bigint)`, primary key
//!   `(aggregate_type, aggregate_id)`.
//!
//! An insert into `outbox` notifies the channel `outbox.<schema>` (a statement trigger), which
//! Postgres delivers when the transaction commits and drops on rollback.

mod listener;
mod maintenance;
mod relay;

use std::collections::{BTreeMap, HashMap};

use certitude_proto::events::v1::Envelope;
use prost::Message;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::db::{self, DbError};
use crate::events::{self, Event, EventType, EventsSettings};
use crate::telemetry;

pub use maintenance::{Backlog, backlog, notify_channel, prune_published};
pub use relay::{Relay, RelayError, RelaySettings, RelayStats};

/// Writes events into the `outbox` table of the connection's schema.
#[derive(Debug, Clone)]
pub struct Outbox {
    producer: String,
    subject_prefix: String,
    clock: SharedClock,
}

/// An event to write: its type, the aggregate it belongs to, the encoded payload and the trace
/// context of the work that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: EventType,
    /// Identifier of the aggregate (a UUID in text form, for example).
    pub aggregate_id: String,
    /// The payload message, encoded.
    pub payload: Vec<u8>,
    /// W3C `traceparent` to send with the event. A value of another shape is dropped.
    pub traceparent: Option<String>,
}

impl NewEvent {
    /// Creates an event of `M`'s event type carrying `payload`, with the trace context of the
    /// current span.
    pub fn new<M: Event>(aggregate_id: impl Into<String>, payload: &M) -> Self {
        Self::of_type(M::TYPE, aggregate_id, payload)
    }

    /// Creates an event of `event_type` carrying `payload`, with the trace context of the
    /// current span.
    pub fn of_type(
        event_type: EventType,
        aggregate_id: impl Into<String>,
        payload: &impl Message,
    ) -> Self {
        Self {
            event_type,
            aggregate_id: aggregate_id.into(),
            payload: payload.encode_to_vec(),
            traceparent: telemetry::current_traceparent(),
        }
    }

    /// Replaces the trace context.
    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }
}

/// Identity of an event written by [`Outbox::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueuedEvent {
    /// Event id (UUIDv7), also the `Nats-Msg-Id` of the published message.
    pub event_id: Uuid,
    pub subject: String,
    /// Position among the aggregate's events, from 1.
    pub sequence: u64,
}

/// An event that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("event {event_type} has an empty aggregate id; pass the id of the {aggregate}")]
    EmptyAggregateId {
        event_type: &'static str,
        aggregate: &'static str,
    },

    #[error("writing event {event_type} to the outbox failed")]
    Db {
        event_type: &'static str,
        #[source]
        source: DbError,
    },
}

impl Outbox {
    /// Creates an outbox that names `producer` (such as `order-manager`) in every envelope,
    /// builds subjects under `events.subject_prefix` and stamps events with `clock`.
    pub fn new(producer: impl Into<String>, events: &EventsSettings, clock: SharedClock) -> Self {
        Self {
            producer: producer.into(),
            subject_prefix: events.subject_prefix.clone(),
            clock,
        }
    }

    /// Writes `event` on `conn`, which must be inside the caller's transaction: the event is
    /// published only if that transaction commits.
    ///
    /// Allocates the aggregate's next sequence number with an upsert on `outbox_sequences`,
    /// which locks the aggregate's counter until the transaction ends: concurrent writers on
    /// one aggregate get distinct, increasing numbers without gaps, in commit order.
    pub async fn enqueue(
        &self,
        conn: &mut PgConnection,
        event: NewEvent,
    ) -> Result<EnqueuedEvent, OutboxError> {
        let event_type = event.event_type;
        if event.aggregate_id.is_empty() {
            return Err(OutboxError::EmptyAggregateId {
                event_type: event_type.full_name,
                aggregate: event_type.aggregate,
            });
        }
        let db_error = |source: DbError| OutboxError::Db {
            event_type: event_type.full_name,
            source,
        };

        let sequence = allocate_sequence(conn, event_type.aggregate, &event.aggregate_id)
            .await
            .map_err(db_error)?;
        let row = self.row(event, sequence);
        insert(conn, &row)
            .instrument(db::statement_span("INSERT", "outbox"))
            .await
            .map_err(db_error)?;

        Ok(EnqueuedEvent {
            event_id: row.id,
            subject: row.subject,
            sequence: row.envelope.sequence,
        })
    }

    /// Writes `events` on `conn`, inside the caller's transaction, as [`Outbox::enqueue`] does
    /// for each, with two statements in all: one allocating the sequence numbers of every
    /// aggregate and one inserting every row. Events of one aggregate get consecutive numbers
    /// in the order given. Returns the enqueued events in that order.
    pub async fn enqueue_many(
        &self,
        conn: &mut PgConnection,
        events: Vec<NewEvent>,
    ) -> Result<Vec<EnqueuedEvent>, OutboxError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let first_type = first.event_type;
        if let Some(event) = events.iter().find(|event| event.aggregate_id.is_empty()) {
            return Err(OutboxError::EmptyAggregateId {
                event_type: event.event_type.full_name,
                aggregate: event.event_type.aggregate,
            });
        }
        let db_error = |source: DbError| OutboxError::Db {
            event_type: first_type.full_name,
            source,
        };

        let mut next_sequence = allocate_sequences(conn, &events).await.map_err(db_error)?;
        let rows: Vec<OutboxRow> = events
            .into_iter()
            .map(|event| {
                let key = (
                    event.event_type.aggregate.to_owned(),
                    event.aggregate_id.clone(),
                );
                let sequence = next_sequence.get_mut(&key).map_or(1, |next| {
                    *next += 1;
                    *next - 1
                });
                self.row(event, sequence)
            })
            .collect();
        insert_many(conn, &rows)
            .instrument(db::statement_span("INSERT", "outbox"))
            .await
            .map_err(db_error)?;

        Ok(rows
            .into_iter()
            .map(|row| EnqueuedEvent {
                event_id: row.id,
                subject: row.subject,
                sequence: row.envelope.sequence,
            })
            .collect())
    }

    fn row(&self, event: NewEvent, sequence: u64) -> OutboxRow {
        let id = Uuid::now_v7();
        let now = self.clock.now();
        let envelope = Envelope {
            event_id: id.to_string(),
            event_type: event.event_type.full_name.to_owned(),
            occurred_at: Some(events::timestamp(now)),
            producer: self.producer.clone(),
            aggregate_type: event.event_type.aggregate.to_owned(),
            aggregate_id: event.aggregate_id,
            sequence,
            schema_version: event.event_type.schema_version,
            payload: event.payload,
        };
        OutboxRow {
            id,
            subject: event.event_type.subject(&self.subject_prefix),
            traceparent: event.traceparent.filter(|value| is_traceparent(value)),
            created_at: now,
            envelope,
        }
    }
}

struct OutboxRow {
    id: Uuid,
    subject: String,
    traceparent: Option<String>,
    created_at: time::OffsetDateTime,
    envelope: Envelope,
}

async fn allocate_sequence(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<u64, DbError> {
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO outbox_sequences (aggregate_type, aggregate_id, last_sequence)
         VALUES ($1, $2, 1)
         ON CONFLICT (aggregate_type, aggregate_id)
         DO UPDATE SET last_sequence = outbox_sequences.last_sequence + 1
         RETURNING last_sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_one(conn)
    .await?;
    // The counter starts at 1 and only grows.
    Ok(sequence.unsigned_abs())
}

/// Allocates the sequence numbers of every aggregate of `events` with one upsert. The counters
/// are passed in key order, so two concurrent calls lock their common counters in the same
/// order. Returns the first new number of each aggregate.
async fn allocate_sequences(
    conn: &mut PgConnection,
    events: &[NewEvent],
) -> Result<HashMap<(String, String), u64>, DbError> {
    let mut counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for event in events {
        *counts
            .entry((event.event_type.aggregate, event.aggregate_id.as_str()))
            .or_default() += 1;
    }
    let types: Vec<&str> = counts.keys().map(|(kind, _)| *kind).collect();
    let ids: Vec<&str> = counts.keys().map(|(_, id)| *id).collect();
    let amounts: Vec<i64> = counts.values().copied().collect();
    let last: Vec<(String, String, i64)> = sqlx::query_as(
        "INSERT INTO outbox_sequences (aggregate_type, aggregate_id, last_sequence)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (aggregate_type, aggregate_id)
         DO UPDATE SET last_sequence = outbox_sequences.last_sequence + EXCLUDED.last_sequence
         RETURNING aggregate_type, aggregate_id, last_sequence",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&amounts)
    .fetch_all(conn)
    .await?;

    Ok(last
        .into_iter()
        .map(|(kind, id, last_sequence)| {
            let amount = counts.get(&(kind.as_str(), id.as_str())).copied();
            let first = last_sequence - amount.unwrap_or(1) + 1;
            ((kind, id), first.unsigned_abs())
        })
        .collect())
}

async fn insert_many(conn: &mut PgConnection, rows: &[OutboxRow]) -> Result<(), DbError> {
    // One array per column, for unnest.
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let subjects: Vec<&str> = rows.iter().map(|row| row.subject.as_str()).collect();
    let event_types: Vec<&str> = rows
        .iter()
        .map(|r| r.envelope.event_type.as_str())
        .collect();
    let aggregate_types: Vec<&str> = rows
        .iter()
        .map(|row| row.envelope.aggregate_type.as_str())
        .collect();
    let aggregate_ids: Vec<&str> = rows
        .iter()
        .map(|row| row.envelope.aggregate_id.as_str())
        .collect();
    let sequences: Vec<i64> = rows
        .iter()
        .map(|row| i64::try_from(row.envelope.sequence).unwrap_or(i64::MAX))
        .collect();
    let envelopes: Vec<Vec<u8>> = rows
        .iter()
        .map(|row| events::encode_envelope(&row.envelope))
        .collect();
    let traceparents: Vec<Option<&str>> =
        rows.iter().map(|row| row.traceparent.as_deref()).collect();
    let created: Vec<time::OffsetDateTime> = rows.iter().map(|row| row.created_at).collect();

    sqlx::query(
        "INSERT INTO outbox (id, subject, event_type, aggregate_type, aggregate_id, sequence,
                             envelope, traceparent, created_at)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::bigint[], $7::bytea[], $8::text[], $9::timestamptz[])",
    )
    .bind(&ids)
    .bind(&subjects)
    .bind(&event_types)
    .bind(&aggregate_types)
    .bind(&aggregate_ids)
    .bind(&sequences)
    .bind(&envelopes)
    .bind(&traceparents)
    .bind(&created)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert(conn: &mut PgConnection, row: &OutboxRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO outbox (id, subject, event_type, aggregate_type, aggregate_id, sequence,
                             envelope, traceparent, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(row.id)
    .bind(&row.subject)
    .bind(&row.envelope.event_type)
    .bind(&row.envelope.aggregate_type)
    .bind(&row.envelope.aggregate_id)
    .bind(i64::try_from(row.envelope.sequence).unwrap_or(i64::MAX))
    .bind(events::encode_envelope(&row.envelope))
    .bind(&row.traceparent)
    .bind(row.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Returns whether `value` has the shape of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`),
/// so that only header-safe text reaches NATS headers.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let lengths_match = parts.len() == 4
        && parts
            .iter()
            .zip([2, 32, 16, 2])
            .all(|(part, length)| part.len() == length);
    lengths_match
        && parts
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3c_traceparent_is_accepted() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
    }

    #[test]
    fn header_breaking_traceparent_is_rejected() {
        for value in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\n",
            "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
        ] {
            assert!(!is_traceparent(value), "{value:?}");
        }
    }
}
