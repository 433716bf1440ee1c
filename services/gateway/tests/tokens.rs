//! API tokens through the REST API: an admin creates one and receives its secret once, the new
//! token authenticates with its role until it expires or is revoked, and only its digest is
//! stored. Runs against the real Postgres.

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
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const ADMIN: &str = "ctk_test-admin-token-0123456789";
const OPERATOR: &str = "ctk_test-operator-token-0123456789";
/// The nearest port where nothing listens: no route of this test calls a service.
const NO_SERVICE: &str = "http://127.0.0.1:9";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

async fn app(db: &TestDb) -> axum::Router {
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .unwrap();
    auth::store_bootstrap_token(&db.pool, ADMIN, clock::system().now())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tokens (id, name, role, digest, created_at)
         VALUES ($1, 'operator', 'operator', $2, now())",
    )
    .bind(Uuid::now_v7())
    .bind(token_digest(OPERATOR))
    .execute(&db.pool)
    .await
    .unwrap();
    let clients =
        ServiceClients::connect(NO_SERVICE, NO_SERVICE, NO_SERVICE, Duration::from_secs(5))
            .unwrap();
    router(AppState {
        pool: db.pool.clone(),
        clients,
        clock: clock::system(),
    })
}

async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

#[tokio::test]
async fn created_token_works_until_revoked() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let (status, created) = call(
        &app,
        Method::POST,
        "/v1/tokens",
        ADMIN,
        Some(json!({ "name": "deploy-pipeline", "role": "viewer" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token_secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ctk_"), "{secret}");
    assert_eq!(created["role"], "viewer");
    assert_eq!(created["name"], "deploy-pipeline");

    let (status, _) = call(&app, Method::GET, "/v1/license", &secret, None).await;
    assert_ne!(
        status,
        StatusCode::UNAUTHORIZED,
        "the new token authenticates"
    );
    let (status, denied) = call(
        &app,
        Method::POST,
        "/v1/tokens",
        &secret,
        Some(json!({ "name": "escalation", "role": "admin" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{denied}");

    let (status, listed) = call(&app, Method::GET, "/v1/tokens", ADMIN, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{listed}");
    assert!(
        !listed.to_string().contains(&secret),
        "the list shows no secret"
    );
    assert!(items.iter().all(|item| item.get("token_secret").is_none()));
    let stored: (String,) = sqlx::query_as("SELECT digest FROM tokens WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored.0, token_digest(&secret));
    assert_ne!(stored.0, secret);

    let audited: Vec<(String, String, Option<String>, String)> =
        sqlx::query_as("SELECT method, route, target, actor_name FROM audit_log ORDER BY sequence")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        audited
            .iter()
            .any(|(method, route, target, actor)| method == "POST"
                && route == "/v1/tokens"
                && target.as_deref().is_some_and(|t| t.contains(&id))
                && actor == "bootstrap-admin"),
        "{audited:?}"
    );
    assert!(!format!("{audited:?}").contains(&secret));

    let (status, revoked) = call(
        &app,
        Method::DELETE,
        &format!("/v1/tokens/{id}"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let (status, _) = call(&app, Method::GET, "/v1/license", &secret, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, again) = call(
        &app,
        Method::DELETE,
        &format!("/v1/tokens/{id}"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    db.drop_now().await;
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/v1/tokens",
        ADMIN,
        Some(json!({ "name": "short-lived", "role": "operator",
                     "expires_at": "2099-01-01T00:00:00Z" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["expires_at"], "2099-01-01T00:00:00Z");
    let secret = created["token_secret"].as_str().unwrap().to_owned();

    sqlx::query("UPDATE tokens SET expires_at = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(created["id"].as_str().unwrap())
        .execute(&db.pool)
        .await
        .unwrap();
    let (status, _) = call(&app, Method::GET, "/v1/license", &secret, None).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    db.drop_now().await;
}

#[tokio::test]
async fn token_requests_are_checked() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    for (body, field) in [
        (json!({ "name": "", "role": "viewer" }), "name"),
        (json!({ "name": "x".repeat(101), "role": "viewer" }), "name"),
        (json!({ "name": "a\u{0}b", "role": "viewer" }), "name"),
        (json!({ "name": "ci", "role": "root" }), "role"),
        (
            json!({ "name": "ci", "role": "viewer", "expires_at": "tomorrow" }),
            "expires_at",
        ),
        (
            json!({ "name": "ci", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z" }),
            "expires_at",
        ),
    ] {
        let (status, problem) = call(&app, Method::POST, "/v1/tokens", ADMIN, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let (status, missing) = call(
        &app,
        Method::POST,
        "/v1/tokens",
        ADMIN,
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{missing}");
    let (status, _) = call(&app, Method::GET, "/v1/tokens", OPERATOR, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, Method::DELETE, "/v1/tokens/not-a-uuid", ADMIN, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown = format!("/v1/tokens/{}", Uuid::now_v7());
    let (status, _) = call(&app, Method::DELETE, &unknown, ADMIN, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::GET, "/v1/tokens?cursor=bogus", ADMIN, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    db.drop_now().await;
}

#[tokio::test]
async fn token_list_pages_by_cursor() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    for number in 0..3 {
        let body = json!({ "name": format!("robot-{number}"), "role": "viewer" });
        let (status, created) = call(&app, Method::POST, "/v1/tokens", ADMIN, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }

    let mut names = Vec::new();
    let mut path = "/v1/tokens?limit=2".to_owned();
    loop {
        let (status, page) = call(&app, Method::GET, &path, ADMIN, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            names.push(item["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/tokens?limit=2&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(
        names,
        [
            "robot-2",
            "robot-1",
            "robot-0",
            "operator",
            "bootstrap-admin"
        ]
    );
    db.drop_now().await;
}

#[tokio::test]
async fn last_admin_token_is_not_revoked() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let (_, tokens) = call(&app, Method::GET, "/v1/tokens?limit=500", ADMIN, None).await;
    let own_id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["role"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, refused) = call(
        &app,
        Method::DELETE,
        &format!("/v1/tokens/{own_id}"),
        ADMIN,
        None,
    )
    .await;
    let (created_status, second) = call(
        &app,
        Method::POST,
        "/v1/tokens",
        ADMIN,
        Some(json!({ "name": "second-admin", "role": "admin" })),
    )
    .await;
    let (revoked_status, revoked) = call(
        &app,
        Method::DELETE,
        &format!("/v1/tokens/{own_id}"),
        second["token_secret"].as_str().unwrap(),
        None,
    )
    .await;

    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("last active admin token"),
        "{refused}"
    );
    assert_eq!(created_status, StatusCode::CREATED, "{second}");
    assert_eq!(revoked_status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
}
