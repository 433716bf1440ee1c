//! The due-scan of the renewal claim ([`DUE_SCAN_SQL`]) on tables of growing size that all
//! hold the same number of due certificates.
//!
//! One fresh schema of the local Postgres gets the scheduler's migrations. For each table size
//! the `certificate_expiries` table is emptied and filled in bulk with
//! `INSERT ... SELECT generate_series`: [`DUE`] rows are due before [`NOW`], half of the others
//! are planned for later and half have no planned renewal, as certificates without a policy
//! have. After `ANALYZE`, the scan runs once as a warm-up and then [`Scale::runs`] times, each
//! in a transaction that is rolled back, so every run locks and returns the same rows. The
//! plan of the last size comes from `EXPLAIN (ANALYZE, BUFFERS)`.
//!
//! Shared by the `due_scan` benchmark and its smoke test in `tests/bench_smoke.rs`.

use std::time::{Duration, Instant};

use anyhow::bail;
use certitude_platform::testing::TestDb;
use certitude_renewal_scheduler::MIGRATOR;
use certitude_renewal_scheduler::schedule_store::DUE_SCAN_SQL;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// The instant the scan looks for due rows at.
pub const NOW: OffsetDateTime = datetime!(2030-06-01 12:00:00 UTC);

/// Due certificates in every table, and the scan's limit.
pub const DUE: i64 = 1_000;

/// Sizes and repetitions of one run of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 10,000, 30,000 and 100,000 rows: the smoke test's size.
    Small,
    /// 10,000, 100,000 and 1,000,000 rows.
    Full,
}

impl Scale {
    /// Reads `CERTITUDE_BENCH_SCALE` (`small` or `full`); `default` when it is unset.
    pub fn from_env(default: Scale) -> Result<Scale, String> {
        match std::env::var("CERTITUDE_BENCH_SCALE") {
            Err(_) => Ok(default),
            Ok(value) if value.eq_ignore_ascii_case("small") => Ok(Scale::Small),
            Ok(value) if value.eq_ignore_ascii_case("full") => Ok(Scale::Full),
            Ok(value) => Err(format!(
                "CERTITUDE_BENCH_SCALE={value:?} is invalid: use small or full"
            )),
        }
    }

    pub fn table_sizes(self) -> [i64; 3] {
        match self {
            Scale::Small => [10_000, 30_000, 100_000],
            Scale::Full => [10_000, 100_000, 1_000_000],
        }
    }

    /// Timed scans per table size.
    pub fn runs(self) -> usize {
        match self {
            Scale::Small => 20,
            Scale::Full => 100,
        }
    }
}

/// The timed scans of one table size.
#[derive(Debug, Clone)]
pub struct SizeReport {
    pub rows: i64,
    /// Rows each scan returned; every scan returns the same count.
    pub returned: usize,
    pub durations: Vec<Duration>,
}

impl SizeReport {
    /// Returns the `q`-quantile (0 to 1) of the durations.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.durations.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let last = sorted.len() - 1;
        let index = (q * last as f64).round() as usize;
        sorted[index.min(last)]
    }
}

/// Every size's scans and the plan of the largest.
#[derive(Debug, Clone)]
pub struct Report {
    pub sizes: Vec<SizeReport>,
    pub plan: String,
}

/// Loads each table size and times the due-scan on it.
pub async fn run(scale: Scale) -> anyhow::Result<Report> {
    let db = TestDb::new().await;
    certitude_platform::db::migrate(&db.pool, &MIGRATOR).await?;
    let mut sizes = Vec::new();
    let mut plan = String::new();
    for rows in scale.table_sizes() {
        load(&db.pool, rows).await?;
        let mut durations = Vec::new();
        let mut returned = scan(&db.pool).await?.0;
        for _ in 0..scale.runs() {
            let (count, elapsed) = scan(&db.pool).await?;
            if count != returned {
                bail!("the scan returned {count} rows, then {returned}");
            }
            returned = count;
            durations.push(elapsed);
        }
        plan = explain(&db.pool).await?;
        sizes.push(SizeReport {
            rows,
            returned,
            durations,
        });
    }
    db.drop_now().await;
    Ok(Report { sizes, plan })
}

/// Replaces the table's rows with `rows` generated certificates, [`DUE`] of them due.
async fn load(pool: &PgPool, rows: i64) -> anyhow::Result<()> {
    sqlx::query("TRUNCATE certificate_expiries")
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO certificate_expiries (certificate_id, order_id, credential_id, not_before,
             not_after, recorded_at, renew_at, renewal_method, due_at)
         SELECT md5(i::text)::uuid, md5('order' || i)::uuid::text,
                'credential-' || (i % 5), $1 - interval '60 days', $1 + (i % 90) * interval '1 day',
                $1 - interval '60 days',
                CASE WHEN i <= $2 THEN $1 - i * interval '1 second'
                     WHEN i % 2 = 0 THEN $1 + i * interval '1 minute' END,
                CASE WHEN i <= $2 OR i % 2 = 0 THEN 'renewal' END,
                CASE WHEN i <= $2 THEN $1 - i * interval '1 second'
                     WHEN i % 2 = 0 THEN $1 + i * interval '1 minute' END
         FROM generate_series(1, $3) AS i",
    )
    .bind(NOW)
    .bind(DUE)
    .bind(rows)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE certificate_expiries")
        .execute(pool)
        .await?;
    Ok(())
}

/// Runs the due-scan in a transaction that is rolled back; returns the rows and the time.
async fn scan(pool: &PgPool) -> anyhow::Result<(usize, Duration)> {
    let mut tx = pool.begin().await?;
    let started = Instant::now();
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(DUE_SCAN_SQL)
        .bind(NOW)
        .bind(DUE)
        .fetch_all(&mut *tx)
        .await?;
    let elapsed = started.elapsed();
    tx.rollback().await?;
    Ok((rows.len(), elapsed))
}

/// Returns the `EXPLAIN (ANALYZE, BUFFERS)` output of the due-scan with its parameters inlined.
async fn explain(pool: &PgPool) -> anyhow::Result<String> {
    let mut tx = pool.begin().await?;
    let statement = DUE_SCAN_SQL
        .replace("$1", &format!("'{NOW}'::timestamptz"))
        .replace("$2", &DUE.to_string());
    let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS) {statement}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok(lines.join("\n"))
}
