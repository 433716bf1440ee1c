//! REST conventions of the gateway that need no other service: authentication, roles, problem
//! details for bad input. Runs against the real Postgres.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const ADMIN_TOKEN: &str = "ctk_test-admin-token-0123456789";

async fn app(db: &TestDb) -> axum::Router {
    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .unwrap();
    auth::store_bootstrap_token(&db.pool, ADMIN_TOKEN, clock::system().now())
        .await
        .unwrap();
    // Nothing listens on these ports, so routes that call a service return 503.
    let clients = ServiceClients::connect(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        Duration::from_secs(2),
    )
    .unwrap();
    router(AppState {
        pool: db.pool.clone(),
        clients,
        clock: clock::system(),
    })
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(content_type.unwrap(), "application/problem+json");
    }
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn request_without_token_is_unauthorized() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let (status, body) = send(
        &app,
        Request::get("/v1/orders").body(Body::empty()).unwrap(),
    )
    .await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["status"], 401);
    assert!(body["detail"].as_str().unwrap().contains("Bearer"));
}

#[tokio::test]
async fn unknown_token_is_unauthorized() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let (status, _) = send(&app, post("/v1/credentials", Some("ctk_wrong"), "{}")).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_field_names_the_field() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let body = r#"{"name":"demo","username":"demo-admin"}"#;

    let (status, problem) = send(&app, post("/v1/credentials", Some(ADMIN_TOKEN), body)).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "api_key");
}

#[tokio::test]
async fn malformed_json_is_bad_request() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let (status, problem) = send(&app, post("/v1/credentials", Some(ADMIN_TOKEN), "{nope")).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["type"], "urn:certitude:problem:malformed-body");
}

#[tokio::test]
async fn order_without_idempotency_key_is_rejected() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let body = r#"{"credential_id":"0191d2a0-0000-7000-8000-000000000000","product":"STANDARD_SSL",
                  "common_name":"www.example.com"}"#;

    let (status, problem) = send(&app, post("/v1/orders", Some(ADMIN_TOKEN), body)).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "Idempotency-Key");
}

#[tokio::test]
async fn malformed_id_names_the_path_parameter() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let request = Request::get("/v1/orders/not-a-uuid")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .body(Body::empty())
        .unwrap();

    let (status, problem) = send(&app, request).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "id");
}

#[tokio::test]
async fn unreachable_service_is_unavailable_not_internal() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let request = Request::get("/v1/orders")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .body(Body::empty())
        .unwrap();

    let (status, _) = send(&app, request).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn viewer_cannot_add_credentials() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let viewer_token = "ctk_test-viewer-token-0123456789";
    sqlx::query(
        "INSERT INTO tokens (id, name, role, digest, created_at) VALUES ($1, 'viewer', 'viewer', $2, now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(certitude_gateway::tokens::token_digest(viewer_token))
    .execute(&db.pool)
    .await
    .unwrap();
    let body = r#"{"name":"demo","username":"u","api_key":"k"}"#;

    let (status, problem) = send(&app, post("/v1/credentials", Some(viewer_token), body)).await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(problem["detail"].as_str().unwrap().contains("operator"));
}

#[tokio::test]
async fn wrong_method_is_a_problem() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let request = Request::delete("/v1/orders")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .body(Body::empty())
        .unwrap();

    let (status, problem) = send(&app, request).await;

    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem["status"], 405);
}

#[tokio::test]
async fn oversized_body_is_payload_too_large() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let name = "x".repeat(certitude_gateway::MAX_BODY_BYTES);
    let body = format!(r#"{{"name":"{name}","username":"u","api_key":"k"}}"#);

    let (status, problem) = send(&app, post("/v1/credentials", Some(ADMIN_TOKEN), &body)).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(problem["detail"].as_str().unwrap().contains("bytes"));
}

#[tokio::test]
async fn unauthorized_answer_names_bearer_scheme() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let response = app
        .clone()
        .oneshot(Request::get("/v1/orders").body(Body::empty()).unwrap())
        .await
        .unwrap();

    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"certitude\""
    );
}
