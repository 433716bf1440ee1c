//! The OpenAPI document: valid OpenAPI 3.1, served at `/v1/openapi.json`, in agreement with the
//! router and with the route table of docs/api.md, and committed as docs/openapi.json.
//!
//! After a change to the API, run
//! `UPDATE_OPENAPI_DOCUMENT=1 cargo test -p certitude-gateway --test openapi` to rewrite
//! docs/openapi.json, then review and commit its diff. The routed tests run against the real
//! Postgres; the services are unreachable, so routes that call one respond with 503.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::openapi::{DOCUMENT_PATH, ERROR_RESPONSES, document};
use certitude_gateway::pagination::MAX_LIMIT;
use certitude_gateway::routes::orders::MAX_IDEMPOTENCY_KEY_CHARS;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const ADMIN_TOKEN: &str = "ctk_test-admin-token-0123456789";
const VIEWER_TOKEN: &str = "ctk_test-viewer-token-0123456789";

/// Methods an OpenAPI path item can hold that the gateway serves.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Detail of the router's response to a path it has no route for.
const NO_SUCH_ROUTE: &str = "no such route; docs/api.md lists the routes";
/// Problem type of the router's response to a method a route does not accept.
const METHOD_NOT_ALLOWED: &str = "urn:certitude:problem:method-not-allowed";

fn document_json() -> Value {
    serde_json::to_value(document()).unwrap()
}

/// Returns every operation of the document as (method, path, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    operations
}

/// Follows `value` through a `$ref` within the document, if it is one.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not a reference within the document"));
            document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} does not resolve"))
        }
        None => value,
    }
}

/// Collects the value of every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => found.push(reference.clone()),
                    _ => references(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[test]
fn document_is_openapi_3_1() {
    let document = document_json();

    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "Certitude API");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!document["info"]["description"].as_str().unwrap().is_empty());
    assert_eq!(document["servers"], json!([{"url": "/"}]));
}

#[test]
fn every_reference_resolves() {
    let document = document_json();
    let mut found = Vec::new();
    references(&document, &mut found);

    assert!(found.len() > 100, "only {} references", found.len());
    for reference in found {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| {
            panic!("{reference} points outside the document");
        });
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
}

#[test]
fn every_operation_has_id_summary_and_responses() {
    let document = document_json();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{method} {path} has no summary");
        assert!(!summary.contains('\n'), "{method} {path}: {summary:?}");
        assert!(
            operation["tags"]
                .as_array()
                .is_some_and(|tags| tags.len() == 1),
            "{method} {path} has no tag"
        );

        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path} has no success response"
        );
        for (status, _, _) in ERROR_RESPONSES {
            let response = responses
                .get(&status.to_string())
                .unwrap_or_else(|| panic!("{method} {path} lacks the {status} response"));
            let response = resolve(&document, response);
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
}

#[test]
fn every_operation_needs_a_bearer_token() {
    let document = document_json();

    assert_eq!(document["security"], json!([{"bearer": []}]));
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for (method, path, operation) in operations(&document) {
        assert!(
            operation.get("security").is_none(),
            "{method} {path} overrides the bearer requirement"
        );
    }
}

#[test]
fn error_responses_name_their_headers() {
    let document = document_json();
    let responses = &document["components"]["responses"];

    let unauthorized = &responses["Unauthorized"]["headers"]["WWW-Authenticate"];
    assert_eq!(unauthorized["required"], true);
    let too_many = &responses["TooManyRequests"]["headers"]["Retry-After"];
    assert_eq!(too_many["required"], true);
    assert_eq!(too_many["schema"]["type"], "integer");
}

#[test]
fn path_parameters_are_uuids() {
    let document = document_json();
    for (method, path, operation) in operations(&document) {
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'));
        for name in names {
            let parameter = parameters
                .iter()
                .find(|parameter| parameter["name"] == name && parameter["in"] == "path")
                .unwrap_or_else(|| panic!("{method} {path} does not describe {{{name}}}"));
            assert_eq!(parameter["required"], true, "{method} {path} {name}");
            assert_eq!(
                parameter["schema"]["format"], "uuid",
                "{method} {path} {name}"
            );
        }
    }
}

#[test]
fn pages_take_limit_and_cursor() {
    let document = document_json();
    let mut pages = 0;
    for (method, path, operation) in operations(&document) {
        let body = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        let is_page = body["$ref"]
            .as_str()
            .is_some_and(|schema| schema.starts_with("#/components/schemas/Page_"));
        // An order's history is one page with everything.
        if !is_page || path == "/v1/orders/{id}/history" {
            continue;
        }
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let query = |name: &str| {
            parameters
                .iter()
                .find(|parameter| parameter["name"] == name && parameter["in"] == "query")
                .unwrap_or_else(|| panic!("{method} {path} has no {name} parameter"))
                .clone()
        };
        let limit = query("limit");
        assert_eq!(limit["schema"]["minimum"], 1, "{method} {path}");
        assert_eq!(limit["schema"]["maximum"], MAX_LIMIT, "{method} {path}");
        assert_eq!(
            query("cursor")["schema"]["type"],
            "string",
            "{method} {path}"
        );
        pages += 1;
    }
    assert!(pages >= 11, "only {pages} paged lists");
}

#[test]
fn json_bodies_reject_unknown_fields() {
    let document = document_json();
    for (method, path, operation) in operations(&document) {
        let Some(content) = operation["requestBody"]["content"].as_object() else {
            continue;
        };
        for (media_type, body) in content {
            let schema = resolve(&document, &body["schema"]);
            assert_eq!(
                schema["additionalProperties"], false,
                "{method} {path} {media_type} accepts unknown fields"
            );
        }
    }
}

#[test]
fn order_creation_requires_idempotency_key() {
    let document = document_json();
    for path in [
        "/v1/orders",
        "/v1/orders/{id}/renew",
        "/v1/orders/{id}/reissue",
    ] {
        let parameters = document["paths"][path]["post"]["parameters"]
            .as_array()
            .unwrap();
        let key = parameters
            .iter()
            .find(|parameter| parameter["name"] == "Idempotency-Key")
            .unwrap_or_else(|| panic!("POST {path} does not describe Idempotency-Key"));
        assert_eq!(key["in"], "header", "{path}");
        assert_eq!(key["required"], true, "{path}");
        assert_eq!(
            key["schema"]["maxLength"], MAX_IDEMPOTENCY_KEY_CHARS,
            "{path}"
        );
    }
}

#[test]
fn location_headers_are_described() {
    let document = document_json();
    let mut described = 0;
    for (method, path, operation) in operations(&document) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let Some(location) = response["headers"].get("Location") else {
                continue;
            };
            assert_eq!(location["required"], true, "{method} {path} {status}");
            assert_eq!(
                location["schema"]["format"], "uri-reference",
                "{method} {path} {status}"
            );
            described += 1;
        }
    }
    // Credentials, one credential's sync, imports, orders, renewals, reissues and tokens.
    assert_eq!(described, 7);
}

#[test]
fn files_have_their_media_types() {
    let document = document_json();
    let export = &document["paths"]["/v1/certificates/{id}/export"];
    let pem = export["get"]["responses"]["200"]["content"]
        .as_object()
        .unwrap();
    let pkcs12 = export["post"]["responses"]["200"]["content"]
        .as_object()
        .unwrap();
    let import = document["paths"]["/v1/certificates/import"]["post"]["requestBody"]["content"]
        .as_object()
        .unwrap();

    assert_eq!(
        pem.keys().collect::<Vec<_>>(),
        [
            "application/pem-certificate-chain",
            "application/x-pem-file"
        ]
    );
    assert_eq!(pkcs12.keys().collect::<Vec<_>>(), ["application/pkcs12"]);
    assert_eq!(import.keys().collect::<Vec<_>>(), ["multipart/form-data"]);
    assert_eq!(
        import["multipart/form-data"]["schema"]["required"],
        json!(["file"])
    );
}

/// Method and path of every route in the route table of docs/api.md, without query strings.
fn documented_routes() -> BTreeSet<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut routes = BTreeSet::new();
    for line in text.lines() {
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((route, _)) = cell.split_once('`') else {
            continue;
        };
        let Some((method, target)) = route.split_once(' ') else {
            continue;
        };
        if !["GET", "PUT", "POST", "DELETE", "PATCH"].contains(&method) {
            continue;
        }
        let path = target.split('?').next().unwrap_or(target);
        routes.insert((method.to_ascii_lowercase(), path.to_owned()));
    }
    routes
}

#[test]
fn document_lists_the_routes_of_docs_api_md() {
    let document = document_json();
    let in_document: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let in_docs = documented_routes();

    let missing_from_document: Vec<_> = in_docs.difference(&in_document).collect();
    let missing_from_docs: Vec<_> = in_document.difference(&in_docs).collect();
    assert!(
        missing_from_document.is_empty(),
        "routes of docs/api.md missing from the OpenAPI document: {missing_from_document:?}"
    );
    assert!(
        missing_from_docs.is_empty(),
        "routes of the OpenAPI document missing from docs/api.md: {missing_from_docs:?}"
    );
}

fn committed_document_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn committed_document_is_current() {
    let mut generated = serde_json::to_string_pretty(document()).unwrap();
    generated.push('\n');
    let path = committed_document_path();
    if std::env::var_os("UPDATE_OPENAPI_DOCUMENT").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the document the gateway generates: refresh it with \
         UPDATE_OPENAPI_DOCUMENT=1 cargo test -p certitude-gateway --test openapi, then review \
         its diff"
    );
}

async fn app(db: &TestDb) -> axum::Router {
    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .unwrap();
    auth::store_bootstrap_token(&db.pool, ADMIN_TOKEN, clock::system().now())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tokens (id, name, role, digest, created_at)
         VALUES ($1, 'viewer', 'viewer', $2, now())",
    )
    .bind(Uuid::now_v7())
    .bind(certitude_gateway::tokens::token_digest(VIEWER_TOKEN))
    .execute(&db.pool)
    .await
    .unwrap();
    // Nothing listens on these ports, so routes that call a service respond with 503.
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

/// A response as the tests look at it.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(app: &axum::Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        body: body.to_vec(),
    }
}

fn get_document(token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(DOCUMENT_PATH);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn document_is_served_to_any_role() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    for token in [ADMIN_TOKEN, VIEWER_TOKEN] {
        let answer = send(&app, get_document(Some(token))).await;

        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(answer.json(), document_json());
    }
}

#[tokio::test]
async fn document_needs_a_token() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let answer = send(&app, get_document(None)).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.json()["type"],
        "urn:certitude:problem:unauthenticated"
    );
}

/// Builds the request for one operation: random UUIDs for the path parameters, the required
/// headers, and the smallest body of the operation's media type.
fn minimal_request(method: &str, path: &str, operation: &Value) -> Request<Body> {
    let uri = path
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
    let mut request = Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"));
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for parameter in &parameters {
        if parameter["in"] == "header" && parameter["required"] == true {
            let name = parameter["name"].as_str().unwrap();
            request = request.header(name, Uuid::new_v4().to_string());
        }
    }
    let content = operation["requestBody"]["content"].as_object();
    let body = match content.and_then(|content| content.keys().next()) {
        Some(media_type) if media_type == "application/json" => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from("{}")
        }
        Some(media_type) => {
            request = request.header(header::CONTENT_TYPE, media_type.as_str());
            Body::empty()
        }
        None => Body::empty(),
    };
    request.body(body).unwrap()
}

/// Validates `instance` against `schema`, a schema of the document, with formats checked.
fn validate(document: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    let root = json!({"components": document["components"], "allOf": [schema]});
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .map_err(|error| format!("the schema does not compile: {error}"))?;
    let violations: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{error} at `{}`", error.instance_path()))
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations.join("; "))
    }
}

#[tokio::test]
async fn every_documented_route_is_routed() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let document = document_json();

    let mut succeeded = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let answer = send(&app, minimal_request(&method, &path, &operation)).await;
        let body = answer.json();
        let route = format!("{} {path}", method.to_ascii_uppercase());

        assert!(
            !(answer.status == StatusCode::NOT_FOUND && body["detail"] == NO_SUCH_ROUTE),
            "{route} has no route"
        );
        assert!(
            !(answer.status == StatusCode::METHOD_NOT_ALLOWED
                && body["type"] == METHOD_NOT_ALLOWED),
            "{route} is not routed with this method"
        );
        let status = answer.status.as_str().to_owned();
        let response = operation["responses"]
            .get(&status)
            .unwrap_or_else(|| panic!("{route} answered the undocumented status {status}"));
        let response = resolve(&document, response);
        let media_type = answer.content_type.split(';').next().unwrap_or_default();
        let content = response["content"]
            .get(media_type)
            .unwrap_or_else(|| panic!("{route} {status} answered the undocumented {media_type}"));
        if media_type.ends_with("json") {
            validate(&document, &content["schema"], &body)
                .unwrap_or_else(|error| panic!("{route} {status}: {error}\nin {body}"));
        }
        if answer.status.is_success() {
            succeeded.insert(route);
        }
    }

    // The routes that read only the gateway's own tables respond with their success body.
    for route in [
        "GET /v1/tokens",
        "GET /v1/audit",
        "GET /v1/audit/head",
        "GET /v1/openapi.json",
    ] {
        assert!(
            succeeded.contains(route),
            "{route} did not succeed: {succeeded:?}"
        );
    }
}

#[tokio::test]
async fn undocumented_route_and_method_are_told_apart() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let authorized = |request: axum::http::request::Builder| {
        request
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
            .body(Body::empty())
            .unwrap()
    };

    let unknown = send(&app, authorized(Request::get("/v1/no-such-route"))).await;
    let wrong_method = send(&app, authorized(Request::patch("/v1/orders"))).await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["detail"], NO_SUCH_ROUTE);
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json()["type"], METHOD_NOT_ALLOWED);
}
