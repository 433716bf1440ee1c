//! The `sync_runs` table: starting a run or joining the running one, renewing leases, ending
//! runs, and finding credentials due for a scheduled sync.

use certitude_platform::outbox::{NewEvent, Outbox, OutboxError};
use certitude_proto::events::v1::CatalogSynced;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{RunState, SyncRun, Trigger};
use crate::catalog::AppliedCatalog;

/// Attempts to start or join a run before giving up on a credential whose runs keep ending
/// between the two statements of an attempt.
const START_ATTEMPTS: usize = 5;

/// The error text of a run whose replica stopped renewing its lease.
const ABANDONED: &str = "abandoned: the replica running it stopped before it finished; \
                         start another sync";

/// The columns of [`RunRow`], as a literal so that queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, credential_id, state, trigger, organizations, domains, products, removed, error, \
         started_at, finished_at"
    };
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    credential_id: Uuid,
    state: String,
    trigger: String,
    organizations: i32,
    domains: i32,
    products: i32,
    removed: i32,
    error: Option<String>,
    started_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
}

impl From<RunRow> for SyncRun {
    fn from(row: RunRow) -> Self {
        let count = |value: i32| u32::try_from(value).unwrap_or_default();
        SyncRun {
            id: row.id,
            credential_id: row.credential_id,
            state: RunState::parse(&row.state),
            trigger: row.trigger,
            organizations: count(row.organizations),
            domains: count(row.domains),
            products: count(row.products),
            removed: count(row.removed),
            error: row.error,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

/// A run that [`start_or_join`] returned, and whether this call inserted it.
pub(super) struct Started {
    pub run: SyncRun,
    pub inserted: bool,
}

/// Inserts a running run for the credential, or returns the run already running. Rarely, when
/// runs keep ending between the insert and the lookup, returns the latest run instead.
pub(super) async fn start_or_join(
    pool: &PgPool,
    credential_id: Uuid,
    trigger: Trigger,
    now: OffsetDateTime,
    lease_expires_at: OffsetDateTime,
) -> Result<Started, sqlx::Error> {
    for _ in 0..START_ATTEMPTS {
        let inserted: Option<RunRow> = sqlx::query_as(concat!(
            "INSERT INTO sync_runs (id, credential_id, state, trigger, started_at,
                                    lease_expires_at)
             VALUES ($1, $2, 'running', $3, $4, $5)
             ON CONFLICT (credential_id) WHERE state = 'running' DO NOTHING
             RETURNING ",
            columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(credential_id)
        .bind(trigger.as_str())
        .bind(now)
        .bind(lease_expires_at)
        .fetch_optional(pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(Started {
                run: row.into(),
                inserted: true,
            });
        }

        let running: Option<RunRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sync_runs WHERE credential_id = $1 AND state = 'running'"
        ))
        .bind(credential_id)
        .fetch_optional(pool)
        .await?;
        if let Some(row) = running {
            return Ok(Started {
                run: row.into(),
                inserted: false,
            });
        }
    }
    let latest: RunRow = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE credential_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1"
    ))
    .bind(credential_id)
    .fetch_one(pool)
    .await?;
    Ok(Started {
        run: latest.into(),
        inserted: false,
    })
}

/// Closes the credential's running run as failed when its lease expired before `now`, with a
/// CatalogSynced event, in one transaction. Returns the closed run.
pub(super) async fn close_abandoned(
    pool: &PgPool,
    outbox: &Outbox,
    credential_id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<SyncRun>, CloseError> {
    let mut tx = pool.begin().await?;
    let closed: Option<RunRow> = sqlx::query_as(concat!(
        "UPDATE sync_runs SET state = 'failed', error = $3, finished_at = $2
         WHERE credential_id = $1 AND state = 'running' AND lease_expires_at <= $2
         RETURNING ",
        columns!()
    ))
    .bind(credential_id)
    .bind(now)
    .bind(ABANDONED)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(closed) = closed.map(SyncRun::from) else {
        return Ok(None);
    };
    outbox.enqueue(&mut tx, synced_event(&closed)).await?;
    tx.commit().await?;
    Ok(Some(closed))
}

/// A failure of [`close_abandoned`].
#[derive(Debug, thiserror::Error)]
pub(super) enum CloseError {
    #[error("closing an abandoned sync run failed")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Extends a running run's lease; returns false when the run is no longer running.
pub(super) async fn renew_lease(
    pool: &PgPool,
    id: Uuid,
    lease_expires_at: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query(
        "UPDATE sync_runs SET lease_expires_at = $2 WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(lease_expires_at)
    .execute(pool)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Marks a running run succeeded with its counts; returns `None` when it was no longer
/// running (another replica closed it as abandoned).
pub(super) async fn finish_succeeded(
    conn: &mut PgConnection,
    id: Uuid,
    applied: AppliedCatalog,
    now: OffsetDateTime,
) -> Result<Option<SyncRun>, sqlx::Error> {
    let count = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "UPDATE sync_runs
         SET state = 'succeeded', organizations = $2, domains = $3, products = $4, removed = $5,
             finished_at = $6
         WHERE id = $1 AND state = 'running'
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(count(applied.organizations))
    .bind(count(applied.domains))
    .bind(count(applied.products))
    .bind(count(applied.removed))
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(SyncRun::from))
}

/// Marks a running run failed with `error`; returns `None` when it was no longer running.
pub(super) async fn finish_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    now: OffsetDateTime,
) -> Result<Option<SyncRun>, sqlx::Error> {
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "UPDATE sync_runs SET state = 'failed', error = $2, finished_at = $3
         WHERE id = $1 AND state = 'running'
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(error)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(SyncRun::from))
}

/// Returns one run.
pub(super) async fn get(pool: &PgPool, id: Uuid) -> Result<Option<SyncRun>, sqlx::Error> {
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(SyncRun::from))
}

/// Returns up to `limit` runs of a credential, newest first, after the run that started at
/// `before.0` with id `before.1`, when given.
pub(super) async fn list(
    pool: &PgPool,
    credential_id: Uuid,
    before: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<SyncRun>, sqlx::Error> {
    let (before_started, before_id) = before.unzip();
    let rows: Vec<RunRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs
         WHERE credential_id = $1
           AND ($2::timestamptz IS NULL OR (started_at, id) < ($2, $3))
         ORDER BY started_at DESC, id DESC
         LIMIT $4"
    ))
    .bind(credential_id)
    .bind(before_started)
    .bind(before_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(SyncRun::from).collect())
}

/// Returns up to `limit` credentials without a run started after `started_after`.
pub(super) async fn due_credentials(
    pool: &PgPool,
    started_after: OffsetDateTime,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.id FROM credentials c
         WHERE NOT EXISTS (
             SELECT 1 FROM sync_runs r
             WHERE r.credential_id = c.id AND r.started_at > $1)
         ORDER BY c.id
         LIMIT $2",
    )
    .bind(started_after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Returns the CatalogSynced event of an ended run; no counts for a failed one.
pub(super) fn synced_event(run: &SyncRun) -> NewEvent {
    let succeeded = run.state == RunState::Succeeded;
    let payload = CatalogSynced {
        credential_id: run.credential_id.to_string(),
        sync_run_id: run.id.to_string(),
        outcome: run.state.as_str().to_owned(),
        organizations: if succeeded { run.organizations } else { 0 },
        domains: if succeeded { run.domains } else { 0 },
        products: if succeeded { run.products } else { 0 },
        error: run.error.clone().unwrap_or_default(),
        removed: if succeeded { run.removed } else { 0 },
        trigger: run.trigger.clone(),
    };
    NewEvent::new(run.credential_id.to_string(), &payload)
}
