//! Starting sync runs (or joining the running one) and tracking the runs this replica
//! executes, so that shutdown can wait for them.

use certitude_platform::db::DbError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::runs::{self, CloseError, LastFullSync};
use super::{SyncRun, Trigger, runner};
use crate::catalog::KindSet;
use crate::error::ServiceError;
use crate::paging::{PageLimits, decode_token, encode_token};
use crate::state::Deps;

/// SQLSTATE of a foreign-key violation: the credential of a new run does not exist.
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// Page sizes of ListSyncRuns.
const RUN_PAGES: PageLimits = PageLimits {
    default: 50,
    max: 500,
};

/// Starts sync runs and executes the ones it inserted on this replica.
#[derive(Debug, Clone)]
pub struct SyncLauncher {
    deps: Deps,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl SyncLauncher {
    /// Creates a launcher whose runs stop (and are recorded as interrupted) when `cancel`
    /// fires.
    pub fn new(deps: Deps, cancel: CancellationToken) -> Self {
        Self {
            deps,
            tracker: TaskTracker::new(),
            cancel,
        }
    }

    /// Starts a run of `kinds` for the credential and returns it at once, or returns the run
    /// already running for it, whichever replica started that one and whatever kinds it
    /// covers. A running run whose lease expired is first closed as failed.
    ///
    /// Fails with NOT_FOUND for an unknown credential and UNAVAILABLE while the service stops.
    pub async fn start(
        &self,
        credential_id: Uuid,
        trigger: Trigger,
        kinds: KindSet,
    ) -> Result<SyncRun, ServiceError> {
        if self.cancel.is_cancelled() {
            return Err(ServiceError::Unavailable {
                message: "the service is stopping: retry the sync on another replica".to_owned(),
                source: None,
            });
        }
        let now = self.deps.clock.now();
        match runs::close_abandoned(&self.deps.pool, &self.deps.outbox, credential_id, now).await {
            Ok(Some(closed)) => tracing::warn!(
                credential.id = %credential_id,
                sync_run.id = %closed.id,
                "closed catalog sync {} as abandoned: its lease expired",
                closed.id
            ),
            Ok(None) => {}
            Err(CloseError::Db(error)) => return Err(start_error(error, credential_id)),
            Err(CloseError::Outbox(error)) => return Err(error.into()),
        }

        let started = runs::start_or_join(
            &self.deps.pool,
            credential_id,
            trigger,
            &kinds,
            now,
            now + runner::LEASE,
        )
        .await
        .map_err(|error| start_error(error, credential_id))?;
        if started.inserted {
            tracing::info!(
                credential.id = %credential_id,
                sync_run.id = %started.run.id,
                sync.trigger = trigger.as_str(),
                sync.kinds = ?kinds.names(),
                "started catalog sync {} of credential {credential_id}",
                started.run.id
            );
            let run = started.run.clone();
            let execution = runner::execute(self.deps.clone(), run, self.cancel.child_token());
            self.tracker.spawn(execution);
        }
        Ok(started.run)
    }

    /// Starts (or joins) a run of `kinds` for every credential, one after the other, and
    /// returns the runs in the credentials' creation order. A credential deleted meanwhile is
    /// skipped.
    pub async fn start_all(
        &self,
        trigger: Trigger,
        kinds: &KindSet,
    ) -> Result<Vec<SyncRun>, ServiceError> {
        let credential_ids = runs::credential_ids(&self.deps.pool)
            .await
            .map_err(|error| ServiceError::Db(error.into()))?;
        let mut started = Vec::with_capacity(credential_ids.len());
        for credential_id in credential_ids {
            match self.start(credential_id, trigger, kinds.clone()).await {
                Ok(run) => started.push(run),
                Err(ServiceError::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(started)
    }

    /// Returns one run.
    pub async fn get(&self, id: Uuid) -> Result<SyncRun, ServiceError> {
        runs::get(&self.deps.pool, id)
            .await
            .map_err(|error| ServiceError::Db(error.into()))?
            .ok_or_else(|| ServiceError::not_found("sync run", id.to_string()))
    }

    /// Returns one page of a credential's runs, newest first, and the next page's token
    /// (empty on the last page).
    pub async fn list(
        &self,
        credential_id: Uuid,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<SyncRun>, String), ServiceError> {
        let size = RUN_PAGES.size(page_size);
        let before = match decode_token(page_token, 2)? {
            Some(key) => Some(parse_run_key(&key)?),
            None => None,
        };
        let mut page = runs::list(&self.deps.pool, credential_id, before, i64::from(size) + 1)
            .await
            .map_err(|error| ServiceError::Db(error.into()))?;
        let next_page_token = if page.len() > size as usize {
            page.truncate(size as usize);
            page.last().map(run_key).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((page, next_page_token))
    }

    /// Returns at most `limit` credentials whose last run of every kind started at or before
    /// `started_before`, or that have none; see [`runs::last_full_syncs`].
    pub(super) async fn last_full_syncs(
        &self,
        started_before: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<LastFullSync>, DbError> {
        Ok(runs::last_full_syncs(&self.deps.pool, started_before, limit).await?)
    }

    /// Returns the service's clock.
    pub(super) fn now(&self) -> OffsetDateTime {
        self.deps.clock.now()
    }

    /// Waits until every run this launcher spawned has ended. Call after `cancel` fired, or
    /// the wait lasts as long as the runs do.
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn run_key(run: &SyncRun) -> String {
    let started_at = run.started_at.format(&Rfc3339).unwrap_or_default();
    encode_token(&[started_at, run.id.to_string()])
}

fn parse_run_key(key: &[String]) -> Result<(OffsetDateTime, Uuid), ServiceError> {
    let invalid = || {
        ServiceError::invalid(
            "page_token",
            "is not a token ListSyncRuns returned: pass its next_page_token",
        )
    };
    let started_at = OffsetDateTime::parse(&key[0], &Rfc3339).map_err(|_| invalid())?;
    let id = Uuid::parse_str(&key[1]).map_err(|_| invalid())?;
    Ok((started_at, id))
}

fn start_error(error: sqlx::Error, credential_id: Uuid) -> ServiceError {
    let is_missing_credential = matches!(
        &error,
        sqlx::Error::Database(db) if db.code().as_deref() == Some(FOREIGN_KEY_VIOLATION)
    );
    if is_missing_credential {
        return ServiceError::not_found("credential", credential_id.to_string());
    }
    ServiceError::Db(error.into())
}
