//! Backlog figures and pruning of published outbox rows.

use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::db::DbError;

/// Rows deleted per statement when pruning, so no statement holds many locks for long.
const PRUNE_CHUNK: i64 = 1_000;

/// The unpublished part of an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Events written but not yet published.
    pub unpublished: u64,
    /// Age of the oldest unpublished event, by the clock passed to [`backlog`], or `None`
    /// when nothing waits.
    pub oldest_age: Option<Duration>,
}

/// Measures the backlog of the pool's outbox at `now`.
pub async fn backlog(pool: &PgPool, now: OffsetDateTime) -> Result<Backlog, DbError> {
    let (count, oldest): (i64, Option<OffsetDateTime>) =
        sqlx::query_as("SELECT count(*), min(created_at) FROM outbox WHERE published_at IS NULL")
            .fetch_one(pool)
            .await?;
    Ok(Backlog {
        unpublished: count.unsigned_abs(),
        oldest_age: oldest.map(|created_at| now - created_at),
    })
}

/// Deletes rows published before `published_before`, in chunks, and returns how many.
/// Unpublished rows are never deleted. Several replicas may prune at once: each skips rows
/// another is deleting.
pub async fn prune_published(
    pool: &PgPool,
    published_before: OffsetDateTime,
) -> Result<u64, DbError> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM outbox WHERE id IN (
                 SELECT id FROM outbox
                 WHERE published_at IS NOT NULL AND published_at < $1
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(published_before)
        .bind(PRUNE_CHUNK)
        .execute(pool)
        .await?
        .rows_affected();
        total += deleted;
        if deleted < PRUNE_CHUNK.unsigned_abs() {
            return Ok(total);
        }
    }
}

/// Returns the notification channel of the outbox in `schema`: `outbox.<schema>`, cut to the
/// 63 bytes Postgres allows, as the `outbox_notify` trigger computes it.
pub fn notify_channel(schema: &str) -> String {
    let mut channel = format!("outbox.{schema}");
    let mut end = channel.len().min(63);
    while !channel.is_char_boundary(end) {
        end -= 1;
    }
    channel.truncate(end);
    channel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_schema() {
        assert_eq!(notify_channel("order_manager"), "outbox.order_manager");
    }

    #[test]
    fn channel_of_long_schema_fits_postgres_names() {
        let channel = notify_channel(&"s".repeat(63));

        assert_eq!(channel.len(), 63);
    }
}
