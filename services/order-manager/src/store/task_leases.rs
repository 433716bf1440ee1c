//! `task_leases`: one row per periodic task that only one replica at a time may run, such as the
//! portal reconcile. Each statement commits at once, so no transaction stays open while a round
//! calls Entrust.

use sqlx::PgPool;
use time::OffsetDateTime;

/// The schedule of a task as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskLease {
    pub name: String,
    pub holder: Option<String>,
    pub leased_until: Option<OffsetDateTime>,
    pub next_run_at: OffsetDateTime,
}

impl TaskLease {
    /// Returns the first instant at which another replica may start a round: the due time, or
    /// the end of a lease held at `now` when that is later.
    pub fn available_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        match self.leased_until {
            Some(until) if until >= now => until.max(self.next_run_at),
            _ => self.next_run_at,
        }
    }
}

/// Result of [`try_start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The caller holds the lease until the `leased_until` it gave, and runs the round.
    Started,
    /// The round is not due yet, or another replica holds a live lease.
    NotNow(TaskLease),
}

/// Takes the lease of task `name` for `holder` until `leased_until` when the round is due at
/// `now` and no other lease is live. A task without a row gets one that is due at `now`, so
/// the first replica that calls this runs the first round.
pub async fn try_start(
    pool: &PgPool,
    name: &str,
    holder: &str,
    now: OffsetDateTime,
    leased_until: OffsetDateTime,
) -> Result<Start, sqlx::Error> {
    sqlx::query(
        "INSERT INTO task_leases (name, next_run_at) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now)
    .execute(pool)
    .await?;

    let taken = sqlx::query(
        "UPDATE task_leases
         SET holder = $2, leased_until = $4, last_started_at = $3
         WHERE name = $1 AND next_run_at <= $3
           AND (leased_until IS NULL OR leased_until < $3)",
    )
    .bind(name)
    .bind(holder)
    .bind(now)
    .bind(leased_until)
    .execute(pool)
    .await?;
    if taken.rows_affected() == 1 {
        return Ok(Start::Started);
    }

    let current: TaskLease = sqlx::query_as(
        "SELECT name, holder, leased_until, next_run_at FROM task_leases WHERE name = $1",
    )
    .bind(name)
    .fetch_one(pool)
    .await?;
    Ok(Start::NotNow(current))
}

/// Extends `holder`'s lease of task `name` to `leased_until`. Returns `false` when the holder
/// lost the lease (it ended and another replica took it), so the caller must stop its round.
pub async fn renew(
    pool: &PgPool,
    name: &str,
    holder: &str,
    leased_until: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let renewed =
        sqlx::query("UPDATE task_leases SET leased_until = $3 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .bind(leased_until)
            .execute(pool)
            .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Ends `holder`'s round of task `name` at `now`, recording its error (`None` on success) and
/// making the next round due at `next_run_at`. Changes nothing when the holder lost the lease.
pub async fn finish(
    pool: &PgPool,
    name: &str,
    holder: &str,
    now: OffsetDateTime,
    next_run_at: OffsetDateTime,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE task_leases
         SET holder = NULL, leased_until = NULL, next_run_at = $4, last_finished_at = $3,
             last_error = $5
         WHERE name = $1 AND holder = $2",
    )
    .bind(name)
    .bind(holder)
    .bind(now)
    .bind(next_run_at)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}
