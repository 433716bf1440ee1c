//! The rate budget end to end: every attempt takes a slot, two replicas sharing a Postgres
//! budget stay within one quota at the simulator, and a budget whose store is down sends
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use entrust::{EntrustClient, Error, PostgresRateBudget, RateBudget, RateBudgetError, RateQuota};
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TEST_API_KEY, TEST_USER, fast_config};
use crate::sim::{ADMIN_KEY, ADMIN_USER};

const ADMIN_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("CERTITUDE_TEST_DATABASE_URL").unwrap_or_else(|_| ADMIN_DATABASE_URL.to_owned())
}

/// A schema of its own in the real Postgres, dropped at the end of the test.
struct TestSchema {
    admin: PgPool,
    name: String,
}

impl TestSchema {
    async fn create() -> anyhow::Result<TestSchema> {
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&admin_url())
            .await?;
        let name = format!("entrust_rate_test_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .execute(&admin)
            .await?;
        Ok(TestSchema { admin, name })
    }

    /// Opens a pool of its own, as another replica would.
    async fn replica_pool(&self) -> anyhow::Result<PgPool> {
        Ok(PgPoolOptions::new()
            .max_connections(4)
            .connect(&admin_url())
            .await?)
    }

    /// Opens a pool whose `search_path` is this schema.
    async fn search_path_pool(&self) -> anyhow::Result<PgPool> {
        let options: PgConnectOptions = admin_url().parse()?;
        Ok(PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.options([("search_path", self.name.as_str())]))
            .await?)
    }

    async fn drop_now(self) -> anyhow::Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.name
        )))
        .execute(&self.admin)
        .await?;
        self.admin.close().await;
        Ok(())
    }
}

/// A budget that counts the slots taken and never waits.
#[derive(Debug, Default)]
struct CountingBudget {
    slots_taken: AtomicU32,
}

#[async_trait]
impl RateBudget for CountingBudget {
    async fn acquire(&self, _credential_key: &str) -> Result<(), RateBudgetError> {
        self.slots_taken.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn every_attempt_takes_a_slot() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "1"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let budget = Arc::new(CountingBudget::default());
    let mut config = fast_config(
        &format!("{}/enterprise/v2", server.uri()),
        TEST_USER,
        TEST_API_KEY,
    )?;
    config.rate_budget = Some(budget.clone());
    let client = EntrustClient::new(config)?;

    client.version().await?;

    assert_eq!(budget.slots_taken.load(Ordering::SeqCst), 3);
    Ok(())
}

/// Returns the largest number of `times` that fall within any span of `window` ending at one
/// of them.
fn max_in_any_window(times: &[time::OffsetDateTime], window: Duration) -> usize {
    let window = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
    times
        .iter()
        .map(|end| {
            times
                .iter()
                .filter(|at| **at <= *end && *end - **at < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn two_replicas_share_one_postgres_quota() -> anyhow::Result<()> {
    // Arrange: one budget table, two replicas with pools and budgets of their own.
    let schema = TestSchema::create().await?;
    let quota = RateQuota::new(4, Duration::from_millis(1500))?;
    let replica_a =
        PostgresRateBudget::in_schema(schema.replica_pool().await?, quota, &schema.name)?;
    let replica_b =
        PostgresRateBudget::in_schema(schema.replica_pool().await?, quota, &schema.name)?;
    replica_a.ensure_table().await?;
    replica_b.ensure_table().await?;
    let server = RunningSimulator::start(SimConfig {
        scenario: Scenario::demo(),
        clock: certitude_clock::system(),
        listen: "127.0.0.1:0".parse()?,
    })
    .await?;
    let mut clients = Vec::new();
    for budget in [replica_a, replica_b] {
        let mut config = fast_config(&server.base_url(), ADMIN_USER, ADMIN_KEY)?;
        config.rate_budget = Some(Arc::new(budget));
        clients.push(EntrustClient::new(config)?);
    }
    server.clear_request_log();

    // Act: six concurrent calls from each replica.
    let mut calls = Vec::new();
    for client in &clients {
        for _ in 0..6 {
            let client = client.clone();
            calls.push(tokio::spawn(async move { client.version().await }));
        }
    }
    for call in calls {
        call.await??;
    }

    // Assert: the simulator never saw more than the quota within one window.
    let times: Vec<time::OffsetDateTime> = server
        .request_log()
        .iter()
        .filter(|entry| entry.path.ends_with("/application/version"))
        .map(|entry| entry.time)
        .collect();
    assert_eq!(times.len(), 12);
    assert!(
        max_in_any_window(&times, quota.window()) <= 4,
        "more than 4 requests within {:?}: {times:?}",
        quota.window()
    );
    let (rows,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{}\".entrust_rate_windows",
        schema.name
    )))
    .fetch_one(&schema.admin)
    .await?;
    assert!(
        rows >= 1,
        "the replicas recorded no slot in the shared table"
    );
    server.shutdown().await;
    schema.drop_now().await
}

#[tokio::test]
async fn search_path_budget_shares_schema_slots() -> anyhow::Result<()> {
    let schema = TestSchema::create().await?;
    let quota = RateQuota::new(2, Duration::from_secs(60))?;
    let by_path = PostgresRateBudget::new(schema.search_path_pool().await?, quota);
    let by_schema =
        PostgresRateBudget::in_schema(schema.replica_pool().await?, quota, &schema.name)?;
    by_path.ensure_table().await?;
    by_path.ensure_table().await?;

    by_path.acquire("credential-1").await?;
    by_schema.acquire("credential-1").await?;
    let third = tokio::time::timeout(
        Duration::from_millis(300),
        by_schema.acquire("credential-1"),
    )
    .await;
    let other = tokio::time::timeout(Duration::from_secs(5), by_path.acquire("credential-2")).await;

    assert!(third.is_err(), "a third slot within the window must wait");
    assert!(matches!(other, Ok(Ok(()))), "{other:?}");
    let (used,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT sum(used)::bigint FROM \"{}\".entrust_rate_windows WHERE credential_key = \
         'credential-1'",
        schema.name
    )))
    .fetch_one(&schema.admin)
    .await?;
    assert_eq!(used, 2);
    schema.drop_now().await
}

#[tokio::test]
async fn unreachable_budget_store_sends_nothing() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "1"})))
        .mount(&server)
        .await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let closed = listener.local_addr()?;
    drop(listener);
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&format!("postgres://postgres@{closed}/postgres"))?;
    let mut config = fast_config(
        &format!("{}/enterprise/v2", server.uri()),
        TEST_USER,
        TEST_API_KEY,
    )?;
    config.rate_budget = Some(Arc::new(PostgresRateBudget::new(
        pool,
        RateQuota::per_entrust_window(100)?,
    )));
    let client = EntrustClient::new(config)?;

    let error = client.version().await.err();

    assert!(
        matches!(
            &error,
            Some(Error::RateBudget {
                source: RateBudgetError::Store {
                    store: "Postgres",
                    ..
                },
                ..
            })
        ),
        "{error:?}"
    );
    assert!(error.is_some_and(|error| error.is_transient()));
    assert_eq!(server.received_requests().await.map_or(0, |r| r.len()), 0);
    Ok(())
}
