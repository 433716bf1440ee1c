//! Roles and parameter checks of the inventory routes (certificates, license, deployments),
//! against the real Postgres. No inventory listens, so a request that passes the role and
//! parameter checks reaches the service call and gets 503.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::tokens::token_digest;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "ctk_test-admin-token-0123456789";
const OPERATOR: &str = "ctk_test-operator-token-0123456789";
const VIEWER: &str = "ctk_test-viewer-token-0123456789";
const CERTIFICATE: &str = "0191d2a0-0000-7000-8000-0000000000c1";
const DEPLOYMENT: &str = "0191d2a0-0000-7000-8000-0000000000d1";

async fn app(db: &TestDb) -> axum::Router {
    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .unwrap();
    auth::store_bootstrap_token(&db.pool, ADMIN, clock::system().now())
        .await
        .unwrap();
    for (name, token) in [("operator", OPERATOR), ("viewer", VIEWER)] {
        sqlx::query(
            "INSERT INTO tokens (id, name, role, digest, created_at) VALUES ($1, $2, $2, $3, now())",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(name)
        .bind(token_digest(token))
        .execute(&db.pool)
        .await
        .unwrap();
    }
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

fn request(method: Method, path: &str, token: &str, body: Option<&str>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Returns every inventory route with a valid body and the lowest role it needs.
fn routes() -> Vec<(Method, String, Option<&'static str>, &'static str)> {
    let deployments = format!("/v1/certificates/{CERTIFICATE}/deployments");
    vec![
        (Method::GET, "/v1/certificates".to_owned(), None, "viewer"),
        (
            Method::GET,
            format!("/v1/certificates/{CERTIFICATE}"),
            None,
            "viewer",
        ),
        (
            Method::DELETE,
            format!("/v1/certificates/{CERTIFICATE}"),
            None,
            "admin",
        ),
        (Method::GET, "/v1/license".to_owned(), None, "viewer"),
        (
            Method::PUT,
            "/v1/license".to_owned(),
            Some(r#"{"licensed":100}"#),
            "admin",
        ),
        (Method::GET, deployments.clone(), None, "viewer"),
        (
            Method::POST,
            deployments.clone(),
            Some(r#"{"host":"lb1.example.com","port":443,"needs_deployment":true}"#),
            "operator",
        ),
        (
            Method::POST,
            format!("{deployments}/{DEPLOYMENT}/confirm"),
            None,
            "operator",
        ),
        (
            Method::DELETE,
            format!("{deployments}/{DEPLOYMENT}"),
            None,
            "operator",
        ),
        (
            Method::GET,
            "/v1/deployments?needs_deployment=true".to_owned(),
            None,
            "viewer",
        ),
    ]
}

#[tokio::test]
async fn each_route_needs_its_role() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let tokens = [("viewer", VIEWER), ("operator", OPERATOR), ("admin", ADMIN)];
    let rank = |role: &str| tokens.iter().position(|(name, _)| *name == role).unwrap();

    for (method, path, body, needed) in routes() {
        for (role, token) in tokens {
            let (status, problem) = send(&app, request(method.clone(), &path, token, body)).await;

            if rank(role) < rank(needed) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role}");
                assert!(
                    problem["detail"].as_str().unwrap().contains(needed),
                    "{method} {path} as {role}: {problem}"
                );
            } else {
                // The role check passed and the call reached the absent inventory.
                assert_eq!(
                    status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{method} {path} as {role}: {problem}"
                );
            }
        }
    }
    db.drop_now().await;
}

#[tokio::test]
async fn invalid_list_parameters_are_named() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let cases = [
        ("colour=red", "colour"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("expiring_within_days=soon", "expiring_within_days"),
        ("credential_id=cred-1", "credential_id"),
        ("sort=serial_number", "sort"),
        ("order=up", "order"),
        ("issuer=a&issuer=b", "issuer"),
        ("cursor=%27%3B+drop", "cursor"),
    ];
    for (query, name) in cases {
        let path = format!("/v1/certificates?{query}");

        let (status, problem) = send(&app, request(Method::GET, &path, VIEWER, None)).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(problem["invalid_params"][0]["name"], name, "{query}");
    }
    db.drop_now().await;
}

#[tokio::test]
async fn license_body_needs_licensed() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let cases = [
        ("{}", "licensed"),
        (r#"{"licensed":-1}"#, "licensed"),
        (r#"{"licensed":5,"extra":1}"#, "extra"),
    ];
    for (body, name) in cases {
        let (status, problem) =
            send(&app, request(Method::PUT, "/v1/license", ADMIN, Some(body))).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(problem["invalid_params"][0]["name"], name, "{body}");
    }
    // null lifts the limit: the body is valid and the call reaches the absent inventory.
    let (status, _) = send(
        &app,
        request(
            Method::PUT,
            "/v1/license",
            ADMIN,
            Some(r#"{"licensed":null}"#),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    db.drop_now().await;
}

#[tokio::test]
async fn malformed_deployment_ids_are_named() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let cases = [
        (
            Method::GET,
            "/v1/certificates/cert-1/deployments".to_owned(),
            "id",
        ),
        (
            Method::POST,
            format!("/v1/certificates/{CERTIFICATE}/deployments/dep-1/confirm"),
            "deployment_id",
        ),
        (
            Method::DELETE,
            "/v1/certificates/cert-1/deployments/dep-1".to_owned(),
            "id",
        ),
    ];
    for (method, path, name) in cases {
        let (status, problem) = send(&app, request(method.clone(), &path, ADMIN, None)).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(
            problem["invalid_params"][0]["name"], name,
            "{method} {path}"
        );
    }
    db.drop_now().await;
}
