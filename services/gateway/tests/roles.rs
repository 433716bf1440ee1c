//! The role matrix, route by route: docs/api.md's table equals the gateway's, and every route
//! called with every role is refused with 403 exactly when the role is below the route's, and
//! with 401 without a token. Runs against the real Postgres. No service is running, so a
//! request that passes the role check ends at a service call (503) or at input checks (4xx).

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use certitude_gateway::access::ROUTE_ROLES;
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::tokens::{Role, token_digest};
use certitude_gateway::{AppState, router};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

/// The API reference, whose route table is the written role matrix.
const API_DOC: &str = include_str!("../../../docs/api.md");

/// The nearest port where nothing listens: a service call fails at once.
const NO_SERVICE: &str = "http://127.0.0.1:9";

const ROLES: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

fn token_of(role: Role) -> String {
    format!("ctk_role-matrix-{role}-0123456789")
}

async fn app(db: &TestDb) -> axum::Router {
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .unwrap();
    for role in ROLES {
        sqlx::query(
            "INSERT INTO tokens (id, name, role, digest, created_at)
             VALUES ($1, $2, $3, $4, now())",
        )
        .bind(Uuid::now_v7())
        .bind(format!("matrix-{role}"))
        .bind(role.as_str())
        .bind(token_digest(&token_of(role)))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let clients =
        ServiceClients::connect(NO_SERVICE, NO_SERVICE, NO_SERVICE, Duration::from_secs(5))
            .unwrap();
    router(AppState {
        pool: db.pool.clone(),
        clients,
        clock: clock::system(),
    })
}

/// The rows of docs/api.md's route table: method, path, query (for rows that need one) and role.
fn documented_matrix() -> Vec<(String, String, Option<String>, Role)> {
    let mut rows = Vec::new();
    for line in API_DOC.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `METHOD /v1/...` | what it does | role |" splits into 5 cells, the outer ones empty.
        let [_, route, _, role, _] = cells.as_slice() else {
            continue;
        };
        let Some(route) = route
            .strip_prefix('`')
            .and_then(|route| route.strip_suffix('`'))
        else {
            continue;
        };
        let Some((method, target)) = route.split_once(' ') else {
            continue;
        };
        if !target.starts_with("/v1/") {
            continue;
        }
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        let role: Role = role
            .parse()
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        rows.push((method.to_owned(), path.to_owned(), query, role));
    }
    rows
}

/// Builds a request to `path` with its parameters filled with new UUIDs and an empty JSON body.
fn request(method: &str, path: &str, query: Option<&str>, token: Option<&str>) -> Request<Body> {
    let mut uri = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                Uuid::new_v4().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    if let Some(query) = query {
        uri = format!("{uri}?{query}");
    }
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "role-matrix");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from("{}")).unwrap()
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

#[test]
fn documented_matrix_equals_the_gateways() {
    let documented: BTreeSet<(String, String, Role)> = documented_matrix()
        .into_iter()
        .filter(|(_, _, query, _)| query.is_none())
        .map(|(method, path, _, role)| (method, path, role))
        .collect();
    let enforced: BTreeSet<(String, String, Role)> = ROUTE_ROLES
        .iter()
        .map(|(method, path, role)| ((*method).to_owned(), (*path).to_owned(), *role))
        .collect();

    let only_documented: Vec<_> = documented.difference(&enforced).collect();
    let only_enforced: Vec<_> = enforced.difference(&documented).collect();
    assert!(
        only_documented.is_empty() && only_enforced.is_empty(),
        "docs/api.md and access::ROUTE_ROLES disagree:\n  only in the docs: {only_documented:?}\n  \
         only in the code: {only_enforced:?}"
    );
}

#[tokio::test]
async fn routes_reject_roles_below_their_own() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let matrix = documented_matrix();
    assert!(matrix.len() >= ROUTE_ROLES.len(), "{} rows", matrix.len());

    let mut wrong = Vec::new();
    for (method, path, query, needed) in &matrix {
        let (status, body) = send(&app, request(method, path, query.as_deref(), None)).await;
        if status != StatusCode::UNAUTHORIZED {
            wrong.push(format!("{method} {path} without a token: {status} {body}"));
        }
        for role in ROLES {
            let token = token_of(role);
            let (status, body) =
                send(&app, request(method, path, query.as_deref(), Some(&token))).await;
            let rejected_for_role = status == StatusCode::FORBIDDEN
                && body["type"] == "urn:certitude:problem:forbidden"
                && body["detail"]
                    .as_str()
                    .is_some_and(|detail| detail.contains(&format!("needs the {needed} role")));
            let allowed = role >= *needed;
            if allowed
                && (status == StatusCode::FORBIDDEN
                    || status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE)
            {
                wrong.push(format!("{method} {path} as {role}: {status} {body}"));
            }
            if !allowed && !rejected_for_role {
                wrong.push(format!(
                    "{method} {path} as {role} (needs {needed}): {status} {body}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn refusal_comes_before_the_body_is_read() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let viewer = token_of(Role::Viewer);
    let mut request = request("POST", "/v1/orders", None, Some(&viewer));
    *request.body_mut() = Body::from("not json");

    let (status, body) = send(&app, request).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["type"], "urn:certitude:problem:forbidden");
}

#[test]
fn document_names_each_operations_role() {
    let document = serde_json::to_value(certitude_gateway::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(role) = operation.get("x-required-role") else {
                continue;
            };
            documented.insert((
                method.to_ascii_uppercase(),
                path.clone(),
                role.as_str().unwrap().parse::<Role>().unwrap(),
            ));
        }
    }
    let enforced: BTreeSet<(String, String, Role)> = ROUTE_ROLES
        .iter()
        .map(|(method, path, role)| ((*method).to_owned(), (*path).to_owned(), *role))
        .collect();

    assert_eq!(documented, enforced);
}
