//! `/healthz` and `/readyz` against the real Postgres and NATS servers.

use std::net::SocketAddr;
use std::time::Duration;

use certitude_platform::health::{self, HealthError, NatsCheck, PostgresCheck, Readiness};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{admin_database_url, nats_url};
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Time each readiness check gets before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Bound on how long a stopping server may take in these tests before they fail.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

struct HealthServer {
    address: SocketAddr,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), HealthError>>,
}

impl HealthServer {
    async fn start(readiness: Readiness) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port succeeds");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shutdown = Shutdown::new();
        let task = tokio::spawn(health::serve(listener, readiness, shutdown.cancelled()));
        Self {
            address,
            shutdown,
            task,
        }
    }

    async fn get(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let response = reqwest::get(format!("http://{}{path}", self.address))
            .await
            .expect("the health server answers");
        let status = response.status();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    async fn stop(self) {
        self.shutdown.trigger();
        let finished = tokio::time::timeout(STOP_DEADLINE, self.task)
            .await
            .expect("the health server stops after shutdown is triggered");
        let result = finished.expect("the server task does not panic");
        result.expect("the server stops without error");
    }
}

async fn nats_check() -> NatsCheck {
    let client = async_nats::connect(nats_url())
        .await
        .expect("NATS runs on 127.0.0.1:4222");
    NatsCheck::new(client)
}

/// Returns a pool pointing to a port on 127.0.0.1 where nothing listens.
async fn unreachable_pool() -> sqlx::PgPool {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port succeeds");
    let port = closed
        .local_addr()
        .expect("a bound listener has an address")
        .port();
    drop(closed);
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .expect("the URL is valid")
}

#[tokio::test]
async fn ready_when_postgres_and_nats_are_up() {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_database_url())
        .await
        .expect("Postgres runs on 127.0.0.1:5432");
    let checks: Vec<Box<dyn health::ReadinessCheck>> = vec![
        Box::new(PostgresCheck::new(pool)),
        Box::new(nats_check().await),
    ];
    let server = HealthServer::start(Readiness::new(checks, CHECK_TIMEOUT)).await;

    let (live, _) = server.get("/healthz").await;
    let (ready, body) = server.get("/readyz").await;

    assert_eq!(live, reqwest::StatusCode::OK);
    assert_eq!(ready, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["failing"], serde_json::json!([]));
    server.stop().await;
}

#[tokio::test]
async fn unreachable_postgres_makes_readyz_name_it() {
    let checks: Vec<Box<dyn health::ReadinessCheck>> = vec![
        Box::new(PostgresCheck::new(unreachable_pool().await)),
        Box::new(nats_check().await),
    ];
    let server = HealthServer::start(Readiness::new(checks, CHECK_TIMEOUT)).await;

    let (live, _) = server.get("/healthz").await;
    let (ready, body) = server.get("/readyz").await;

    assert_eq!(live, reqwest::StatusCode::OK);
    assert_eq!(ready, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    let failing = body["failing"].as_array().expect("failing is a list");
    assert_eq!(failing.len(), 1, "{body}");
    assert_eq!(failing[0]["dependency"], "postgres");
    assert!(
        !failing[0]["error"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn closed_nats_client_makes_readyz_name_it() {
    let client = async_nats::connect(nats_url())
        .await
        .expect("NATS runs on 127.0.0.1:4222");
    client.drain().await.unwrap();
    let checks: Vec<Box<dyn health::ReadinessCheck>> = vec![Box::new(NatsCheck::new(client))];
    let server = HealthServer::start(Readiness::new(checks, CHECK_TIMEOUT)).await;

    let (ready, body) = server.get("/readyz").await;

    assert_eq!(ready, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failing"][0]["dependency"], "nats");
    server.stop().await;
}

#[tokio::test]
async fn readyz_with_no_checks_is_ready() {
    let server = HealthServer::start(Readiness::new(Vec::new(), CHECK_TIMEOUT)).await;

    let (ready, _) = server.get("/readyz").await;

    assert_eq!(ready, reqwest::StatusCode::OK);
    server.stop().await;
}
