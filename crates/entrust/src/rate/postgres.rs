//! [`PostgresRateBudget`]: a rate budget stored in Postgres and shared by every replica.
//!
//! The window is divided into 30 buckets of width `w`, and a request at time `t` falls into
//! bucket `b`. It is sent only when the buckets `b - 31` to `b` together contain fewer requests
//! than the quota. Those 32 buckets cover every request sent in the `31 w` before `t` (the
//! window plus its margin). So no span of one window ever contains more than the quota, even
//! when a request is delayed by up to `w` on its way. The check and the increment run in one transaction
//! under an advisory lock per credential, and all times come from the database's clock, so
//! replicas with skewed clocks still agree.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgPool};
use time::OffsetDateTime;

use super::{RateBudget, RateBudgetError, RateQuota};

/// DDL of the budget table (`CREATE TABLE IF NOT EXISTS entrust_rate_windows ...`), for a
/// service's own migrations. [`PostgresRateBudget::ensure_table`] runs the same statement.
pub const RATE_WINDOWS_TABLE_SQL: &str = include_str!("../../sql/entrust_rate_windows.sql");

const TABLE: &str = "entrust_rate_windows";

/// Buckets per window.
const BUCKETS_PER_WINDOW: u32 = 30;

/// Buckets before the current one that a request checks: the window's 30 and one more for the
/// margin.
const BUCKETS_BACK: u32 = BUCKETS_PER_WINDOW + 1;

/// Buckets from the start of the oldest counted bucket until its requests stop counting.
const BUCKETS_HELD: u32 = BUCKETS_BACK + 1;

/// Shortest sleep between two attempts to take a slot.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// A sliding-window budget in a Postgres table, shared by every process that uses the table.
///
/// Each slot costs one short transaction (an advisory lock, one read, one upsert and one
/// delete). A budget whose table cannot be reached fails the request instead of sending it.
/// `Debug` shows the quota and schema only, never the pool's connection settings.
#[derive(Clone)]
pub struct PostgresRateBudget {
    pool: PgPool,
    quota: RateQuota,
    schema: Option<String>,
    statements: Statements,
}

impl std::fmt::Debug for PostgresRateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresRateBudget")
            .field("quota", &self.quota)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Statements {
    state: String,
    record: String,
    prune: String,
}

impl Statements {
    fn for_table(table: &str) -> Self {
        Self {
            state: format!(
                "WITH clock AS (SELECT clock_timestamp() AS now), \
                 bucket AS ( \
                     SELECT now, \
                            date_bin($2::bigint * interval '1 microsecond', now, \
                                     TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start \
                     FROM clock) \
                 SELECT bucket.start, \
                        coalesce(sum(w.used), 0)::bigint AS used, \
                        extract(epoch FROM (min(w.window_start) \
                            + $2::bigint * interval '1 microsecond' * {BUCKETS_HELD}) \
                            - bucket.now)::float8 AS wait_seconds \
                 FROM bucket \
                 LEFT JOIN {table} AS w \
                   ON w.credential_key = $1 \
                  AND w.window_start >= bucket.start \
                      - $2::bigint * interval '1 microsecond' * {BUCKETS_BACK} \
                 GROUP BY bucket.start, bucket.now",
            ),
            record: format!(
                "INSERT INTO {table} AS w (credential_key, window_start, used) \
                 VALUES ($1, $2, 1) \
                 ON CONFLICT (credential_key, window_start) DO UPDATE SET used = w.used + 1"
            ),
            prune: format!(
                "DELETE FROM {table} \
                 WHERE credential_key = $1 \
                   AND window_start < $2 - $3::bigint * interval '1 microsecond' * {BUCKETS_BACK}",
            ),
        }
    }
}

fn store_error(action: &'static str, source: sqlx::Error) -> RateBudgetError {
    RateBudgetError::Store {
        action,
        store: "Postgres",
        source: Box::new(source),
    }
}

/// Checks that `schema` is a plain lower-case identifier, so it can be quoted safely.
fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63
}

impl PostgresRateBudget {
    /// Creates a budget in the table `entrust_rate_windows` of the pool's `search_path`.
    pub fn new(pool: PgPool, quota: RateQuota) -> Self {
        Self {
            pool,
            quota,
            schema: None,
            statements: Statements::for_table(TABLE),
        }
    }

    /// Creates a budget in `schema.entrust_rate_windows`. Services that share a credential
    /// must name the same schema to share its quota.
    ///
    /// # Errors
    ///
    /// [`RateBudgetError::Config`] unless `schema` is a lower-case identifier
    /// (`[a-z_][a-z0-9_]*`, at most 63 characters).
    pub fn in_schema(
        pool: PgPool,
        quota: RateQuota,
        schema: &str,
    ) -> Result<Self, RateBudgetError> {
        if !valid_schema(schema) {
            return Err(RateBudgetError::Config {
                field: "schema",
                reason: format!(
                    "{schema:?} is not a lower-case SQL identifier: use letters a-z, digits and \
                     `_`, starting with a letter or `_`"
                ),
            });
        }
        Ok(Self {
            pool,
            quota,
            schema: Some(schema.to_owned()),
            statements: Statements::for_table(&format!("\"{schema}\".{TABLE}")),
        })
    }

    /// Returns the quota.
    pub fn quota(&self) -> RateQuota {
        self.quota
    }

    /// Creates the budget table when it does not exist, with [`RATE_WINDOWS_TABLE_SQL`]. The
    /// schema must exist already.
    ///
    /// # Errors
    ///
    /// [`RateBudgetError::Store`] when the statement fails.
    pub async fn ensure_table(&self) -> Result<(), RateBudgetError> {
        let action = "create the table of";
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|source| store_error(action, source))?;
        if let Some(schema) = &self.schema {
            sqlx::query(AssertSqlSafe(format!(
                "SET LOCAL search_path TO \"{schema}\""
            )))
            .execute(&mut *tx)
            .await
            .map_err(|source| store_error(action, source))?;
        }
        sqlx::raw_sql(RATE_WINDOWS_TABLE_SQL)
            .execute(&mut *tx)
            .await
            .map_err(|source| store_error(action, source))?;
        tx.commit()
            .await
            .map_err(|source| store_error(action, source))
    }

    fn bucket_micros(&self) -> i64 {
        let micros = self.quota.window().as_micros() / u128::from(BUCKETS_PER_WINDOW);
        i64::try_from(micros).unwrap_or(i64::MAX).max(1)
    }

    /// Takes a slot when the window has room and returns `None`; otherwise returns how long to
    /// wait before trying again.
    async fn try_take(&self, credential_key: &str) -> Result<Option<Duration>, sqlx::Error> {
        let bucket = self.bucket_micros();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("entrust_rate_windows:{credential_key}"))
            .execute(&mut *tx)
            .await?;
        let (start, used, wait_seconds): (OffsetDateTime, i64, Option<f64>) =
            sqlx::query_as(AssertSqlSafe(self.statements.state.clone()))
                .bind(credential_key)
                .bind(bucket)
                .fetch_one(&mut *tx)
                .await?;
        let free = used < i64::from(self.quota.requests());
        if free {
            sqlx::query(AssertSqlSafe(self.statements.record.clone()))
                .bind(credential_key)
                .bind(start)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(AssertSqlSafe(self.statements.prune.clone()))
            .bind(credential_key)
            .bind(start)
            .bind(bucket)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if free {
            return Ok(None);
        }
        let wait = wait_seconds
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .map_or(MIN_WAIT, Duration::from_secs_f64)
            .clamp(MIN_WAIT, self.quota.hold());
        Ok(Some(wait))
    }
}

#[async_trait]
impl RateBudget for PostgresRateBudget {
    async fn acquire(&self, credential_key: &str) -> Result<(), RateBudgetError> {
        loop {
            match self.try_take(credential_key).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => tokio::time::sleep(wait).await,
                Err(source) => return Err(store_error("take a slot from", source)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        assert!(valid_schema("credential_sync"));
        assert!(valid_schema("_entrust2"));
        assert!(!valid_schema("Entrust"));
        assert!(!valid_schema("a\"; DROP TABLE x; --"));
        assert!(!valid_schema("1st"));
        assert!(!valid_schema(""));
        assert!(!valid_schema(&"a".repeat(64)));
    }
}
