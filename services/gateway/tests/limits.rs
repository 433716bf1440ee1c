//! The gateway's limits on one caller: the request rate per token (429 with Retry-After, other
//! tokens unaffected) and the deadline per request (504 when a service does not respond). Runs
//! against the real Postgres.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::limits::Limits;
use certitude_gateway::tokens::token_digest;
use certitude_gateway::{AppState, router_with_limits};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::net::TcpListener;
use tower::ServiceExt;
use uuid::Uuid;

const FIRST: &str = "ctk_limits-first-token-0123456789";
const SECOND: &str = "ctk_limits-second-token-0123456789";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

async fn app(db: &TestDb, service_url: &str, limits: Limits) -> axum::Router {
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .unwrap();
    for token in [FIRST, SECOND] {
        sqlx::query(
            "INSERT INTO tokens (id, name, role, digest, created_at)
             VALUES ($1, $2, 'viewer', $3, now())",
        )
        .bind(Uuid::now_v7())
        .bind(&token[..16])
        .bind(token_digest(token))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let clients = ServiceClients::connect(
        service_url,
        service_url,
        service_url,
        Duration::from_secs(30),
    )
    .unwrap();
    router_with_limits(
        AppState {
            pool: db.pool.clone(),
            clients,
            clock: clock::system(),
        },
        limits,
    )
}

/// GET /v1/license as `token`: status, Retry-After and body.
async fn get_license(app: &axum::Router, token: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::get("/v1/license")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn token_over_rate_gets_429() {
    let db = TestDb::new().await;
    // One request per minute, bursts of two: the third request in a row is over the rate.
    let limits = Limits::new(1, 2, Duration::from_secs(30)).with_period(Duration::from_secs(60));
    let app = app(&db, "http://127.0.0.1:9", limits).await;

    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(get_license(&app, FIRST).await.0);
    }
    let (status, retry_after, body) = get_license(&app, FIRST).await;
    let (other_status, _, _) = get_license(&app, SECOND).await;

    // No inventory runs, so a request within the rate ends in 503 at the service call.
    assert_eq!(statuses, [StatusCode::SERVICE_UNAVAILABLE; 2]);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["type"], "urn:certitude:problem:rate-limited");
    let seconds: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds), "Retry-After: {seconds}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("retry after {seconds} s")),
        "{body}"
    );
    assert_eq!(other_status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn request_past_the_deadline_gets_504() {
    let db = TestDb::new().await;
    // A service that accepts connections and never responds.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let silent_service = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let limits = Limits::new(0, 0, Duration::from_millis(300));
    let app = app(&db, &silent_url, limits).await;

    let (status, _, body) = get_license(&app, FIRST).await;

    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["type"], "urn:certitude:problem:timed-out");
    assert!(
        body["detail"].as_str().unwrap().contains("Idempotency-Key"),
        "{body}"
    );
    silent_service.abort();
}
