//! `import_jobs`: one row per import of a credential's Entrust orders, with its progress.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

const COLUMNS: &str = "id, credential_id, state, pages, orders, imported, updated, issued, \
    skipped, failed, error, started_at, heartbeat_at, finished_at, restore_deleted";

/// State of a job that walked every page.
pub const SUCCEEDED: &str = "succeeded";
/// State of a job that stopped on an error.
pub const FAILED: &str = "failed";

/// One import job as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImportJobRow {
    pub id: Uuid,
    pub credential_id: String,
    pub state: String,
    pub pages: i32,
    pub orders: i32,
    pub imported: i32,
    pub updated: i32,
    pub issued: i32,
    pub skipped: i32,
    pub failed: i32,
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    pub heartbeat_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// Whether the job brings back orders deleted from Certitude.
    pub restore_deleted: bool,
}

/// Counters of a job, written with each batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub pages: u32,
    pub orders: u32,
    pub imported: u32,
    pub updated: u32,
    pub issued: u32,
    pub skipped: u32,
    pub failed: u32,
}

impl Progress {
    /// Adds the counters of `other`.
    pub fn add(&mut self, other: &Progress) {
        self.pages += other.pages;
        self.orders += other.orders;
        self.imported += other.imported;
        self.updated += other.updated;
        self.issued += other.issued;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

/// Result of [`start`].
#[derive(Debug)]
pub enum Started {
    /// A new job, which the caller must run.
    New(ImportJobRow),
    /// The job already running for the credential.
    AlreadyRunning(ImportJobRow),
}

/// Starts a job for `credential_id` at `now`, or returns the one already running for it (with
/// its own `restore_deleted`).
///
/// A running job whose heartbeat is older than `stale_before` was abandoned by a replica that
/// stopped. It is marked failed first, so that it does not block imports forever.
pub async fn start(
    pool: &PgPool,
    credential_id: &str,
    restore_deleted: bool,
    now: OffsetDateTime,
    stale_before: OffsetDateTime,
) -> Result<Started, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE import_jobs
         SET state = 'failed', finished_at = $3,
             error = 'abandoned: the replica running the import stopped; start it again'
         WHERE credential_id = $1 AND state = 'running' AND heartbeat_at < $2",
    )
    .bind(credential_id)
    .bind(stale_before)
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let insert = format!(
        "INSERT INTO import_jobs (id, credential_id, state, started_at, heartbeat_at,
             restore_deleted)
         VALUES ($1, $2, 'running', $3, $3, $4)
         ON CONFLICT (credential_id) WHERE state = 'running' DO NOTHING
         RETURNING {COLUMNS}"
    );
    let select =
        format!("SELECT {COLUMNS} FROM import_jobs WHERE credential_id = $1 AND state = 'running'");
    // The running job may end between the insert and the select; the insert is then tried
    // again, and succeeds unless yet another job started meanwhile.
    let mut attempts = 0;
    let started = loop {
        attempts += 1;
        let inserted: Option<ImportJobRow> = sqlx::query_as(sqlx::AssertSqlSafe(insert.as_str()))
            .bind(Uuid::now_v7())
            .bind(credential_id)
            .bind(now)
            .bind(restore_deleted)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(job) = inserted {
            break Started::New(job);
        }
        let running: Option<ImportJobRow> = sqlx::query_as(sqlx::AssertSqlSafe(select.as_str()))
            .bind(credential_id)
            .fetch_optional(&mut *tx)
            .await?;
        match running {
            Some(job) => break Started::AlreadyRunning(job),
            None if attempts < 3 => continue,
            None => return Err(sqlx::Error::RowNotFound),
        }
    };
    tx.commit().await?;
    Ok(started)
}

/// Returns the job with `id`.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<ImportJobRow>, sqlx::Error> {
    let statement = format!("SELECT {COLUMNS} FROM import_jobs WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Writes the counters of a running job and refreshes its heartbeat.
pub async fn save_progress(
    pool: &PgPool,
    id: Uuid,
    progress: &Progress,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE import_jobs
         SET pages = $2, orders = $3, imported = $4, updated = $5, issued = $6, skipped = $7,
             failed = $8, heartbeat_at = $9
         WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(count(progress.pages))
    .bind(count(progress.orders))
    .bind(count(progress.imported))
    .bind(count(progress.updated))
    .bind(count(progress.issued))
    .bind(count(progress.skipped))
    .bind(count(progress.failed))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends a running job as [`SUCCEEDED`] (no error) or [`FAILED`] (with `error`).
pub async fn finish(
    pool: &PgPool,
    id: Uuid,
    progress: &Progress,
    error: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    save_progress(pool, id, progress, now).await?;
    let state = if error.is_some() { FAILED } else { SUCCEEDED };
    sqlx::query(
        "UPDATE import_jobs SET state = $2, error = $3, finished_at = $4
         WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
