//! The `sync_runs` table: starting a run or joining the running one, renewing leases, ending
//! runs, and finding credentials due for a scheduled sync.

use certitude_platform::outbox::{NewEvent, Outbox, OutboxError};
use certitude_proto::events::v1::CatalogSynced;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{RunState, SyncRun, Trigger};
use crate::catalog::{CatalogKind, KindCounts, KindSet};

/// Attempts to start or join a run before giving up on a credential whose runs keep ending
/// between the two statements of an attempt.
const START_ATTEMPTS: usize = 5;

/// The error text of a run whose replica stopped renewing its lease.
const ABANDONED: &str = "abandoned: the replica running it stopped before it finished; \
                         start another sync";

/// The columns of [`RunRow`], as a literal so that queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, credential_id, state, trigger, kinds, organizations, domains, products, added, \
         changed, removed, error, started_at, finished_at"
    };
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    credential_id: Uuid,
    state: String,
    trigger: String,
    kinds: Vec<String>,
    organizations: i32,
    domains: i32,
    products: i32,
    added: i32,
    changed: i32,
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
            kinds: KindSet::from_stored(&row.kinds),
            organizations: count(row.organizations),
            domains: count(row.domains),
            products: count(row.products),
            added: count(row.added),
            changed: count(row.changed),
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

/// Inserts a running run of `kinds` for the credential, or returns the run already running.
/// Rarely, when runs keep ending between the insert and the lookup, returns the latest run
/// instead.
pub(super) async fn start_or_join(
    pool: &PgPool,
    credential_id: Uuid,
    trigger: Trigger,
    kinds: &KindSet,
    now: OffsetDateTime,
    lease_expires_at: OffsetDateTime,
) -> Result<Started, sqlx::Error> {
    for _ in 0..START_ATTEMPTS {
        let inserted: Option<RunRow> = sqlx::query_as(concat!(
            "INSERT INTO sync_runs (id, credential_id, state, trigger, started_at,
                                    lease_expires_at, kinds)
             VALUES ($1, $2, 'running', $3, $4, $5, $6)
             ON CONFLICT (credential_id) WHERE state = 'running' DO NOTHING
             RETURNING ",
            columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(credential_id)
        .bind(trigger.as_str())
        .bind(now)
        .bind(lease_expires_at)
        .bind(kinds.names())
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

/// The counts of a run that ended: entries listed per kind, and what storing them changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct RunTotals {
    pub organizations: u32,
    pub domains: u32,
    pub products: u32,
    pub added: u32,
    pub changed: u32,
    pub removed: u32,
}

impl RunTotals {
    /// Adds the counts of one stored kind.
    pub fn add(&mut self, kind: CatalogKind, counts: KindCounts) {
        match kind {
            CatalogKind::Organizations => self.organizations = counts.listed,
            CatalogKind::Domains => self.domains = counts.listed,
            CatalogKind::Products => self.products = counts.listed,
        }
        self.added = self.added.saturating_add(counts.added);
        self.changed = self.changed.saturating_add(counts.changed);
        self.removed = self.removed.saturating_add(counts.removed);
    }
}

/// Ends a running run in `state` with its counts and error; returns `None` when it was no
/// longer running (another replica closed it as abandoned).
pub(super) async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    state: RunState,
    totals: RunTotals,
    error: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<SyncRun>, sqlx::Error> {
    let count = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    let row: Option<RunRow> = sqlx::query_as(concat!(
        "UPDATE sync_runs
         SET state = $2, organizations = $3, domains = $4, products = $5, added = $6,
             changed = $7, removed = $8, error = $9, finished_at = $10
         WHERE id = $1 AND state = 'running'
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(state.as_str())
    .bind(count(totals.organizations))
    .bind(count(totals.domains))
    .bind(count(totals.products))
    .bind(count(totals.added))
    .bind(count(totals.changed))
    .bind(count(totals.removed))
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

/// Returns the id of every credential, oldest first.
pub(super) async fn credential_ids(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM credentials ORDER BY created_at, id")
        .fetch_all(pool)
        .await
}

/// A credential and the start of its latest run of every kind, if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct LastFullSync {
    pub credential_id: Uuid,
    pub run_id: Option<Uuid>,
    pub started_at: Option<OffsetDateTime>,
}

/// Returns up to `limit` credentials whose latest run of every kind started at or before
/// `started_before`, or that have none, those without a run first, then the oldest runs.
/// Runs of some kinds only do not count.
pub(super) async fn last_full_syncs(
    pool: &PgPool,
    started_before: OffsetDateTime,
    limit: i64,
) -> Result<Vec<LastFullSync>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id AS credential_id, latest.id AS run_id, latest.started_at
         FROM credentials c
         LEFT JOIN LATERAL (
             SELECT r.id, r.started_at FROM sync_runs r
             WHERE r.credential_id = c.id AND r.kinds @> $3::text[]
             ORDER BY r.started_at DESC
             LIMIT 1
         ) latest ON true
         WHERE latest.started_at IS NULL OR latest.started_at <= $1
         ORDER BY latest.started_at NULLS FIRST, c.id
         LIMIT $2",
    )
    .bind(started_before)
    .bind(limit)
    .bind(KindSet::all().names())
    .fetch_all(pool)
    .await
}

/// Returns the CatalogSynced event of an ended run.
pub(super) fn synced_event(run: &SyncRun) -> NewEvent {
    let payload = CatalogSynced {
        credential_id: run.credential_id.to_string(),
        sync_run_id: run.id.to_string(),
        outcome: run.state.as_str().to_owned(),
        organizations: run.organizations,
        domains: run.domains,
        products: run.products,
        error: run.error.clone().unwrap_or_default(),
        removed: run.removed,
        trigger: run.trigger.clone(),
        kinds: run.kinds.names(),
        added: run.added,
        changed: run.changed,
    };
    NewEvent::new(run.credential_id.to_string(), &payload)
}
