//! The audit trail as the REST API writes and serves it. Each change writes one row with its
//! actor, route, target, outcome and request id, and reads write none. No secret reaches a row
//! or the log, two gateways writing at once keep one chain, and the audit routes are for admins.
//! Runs against the real Postgres, and the real inventory on the local NATS for changes that
//! succeed.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use certitude_gateway::audit::{self, AuditRow, Verification};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::tokens::token_digest;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use http_body_util::BodyExt;
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

const ADMIN: &str = "ctk_test-admin-token-0123456789";
const OPERATOR: &str = "ctk_test-operator-token-0123456789";
const VIEWER: &str = "ctk_test-viewer-token-0123456789";
/// Name of the token that `auth::store_bootstrap_token` stores.
const ADMIN_NAME: &str = "bootstrap-admin";
/// The nearest port where nothing listens: calls that pass the checks get 503.
const NO_SERVICE: &str = "http://127.0.0.1:9";
const UNKNOWN_CERTIFICATE: &str = "0191d2a0-0000-7000-8000-0000000000c9";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Migrates the gateway's schema and stores the admin, operator and viewer tokens.
async fn prepare(db: &TestDb) {
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
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(token_digest(token))
        .execute(&db.pool)
        .await
        .unwrap();
    }
}

fn gateway(pool: PgPool, inventory_url: &str) -> axum::Router {
    let clients = ServiceClients::connect(
        NO_SERVICE,
        NO_SERVICE,
        inventory_url,
        Duration::from_secs(30),
    )
    .unwrap();
    router(AppState {
        pool,
        clients,
        clock: clock::system(),
    })
}

async fn app(db: &TestDb) -> axum::Router {
    prepare(db).await;
    gateway(db.pool.clone(), NO_SERVICE)
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

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn audit_rows(pool: &PgPool) -> Vec<AuditRow> {
    sqlx::query_as("SELECT * FROM audit_log ORDER BY sequence")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn token_id(pool: &PgPool, name: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM tokens WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// An inventory started in-process on its own schema and streams.
struct RunningInventory {
    url: String,
    db: TestDb,
    nats: TestNats,
    shutdown: Shutdown,
    running: certitude_inventory::RunningService,
}

impl RunningInventory {
    async fn start() -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let master_key = MasterKey::generate(KeyId::parse("test").unwrap()).unwrap();
        let master_keys = master_key.to_config_entry();
        let config = certitude_inventory::Config::from_pairs([
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
            ("NATS_URL", nats_url()),
            ("CERTITUDE_EVENT_STREAM", nats.settings.stream.clone()),
            (
                "CERTITUDE_SUBJECT_PREFIX",
                nats.settings.subject_prefix.clone(),
            ),
            (
                "CERTITUDE_DEAD_LETTER_STREAM",
                nats.settings.dead_letter_stream.clone(),
            ),
            ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0".to_owned()),
            ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "CERTITUDE_MASTER_KEYS",
                master_keys.expose_secret().to_owned(),
            ),
        ])
        .unwrap();
        let shutdown = Shutdown::new();
        let running = certitude_inventory::start(config, clock::system(), shutdown.clone())
            .await
            .unwrap();
        Self {
            url: format!("http://{}", running.grpc_addr),
            db,
            nats,
            shutdown,
            running,
        }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.running.wait().await.unwrap();
        self.db.drop_now().await;
        self.nats.delete_streams().await;
    }
}

#[tokio::test]
async fn successful_change_writes_one_row() {
    let inventory = RunningInventory::start().await;
    let db = TestDb::new().await;
    prepare(&db).await;
    let app = gateway(db.pool.clone(), &inventory.url);

    let (status, headers, _) = send(
        &app,
        request(
            Method::PUT,
            "/v1/license",
            ADMIN,
            Some(r#"{"licensed":100}"#),
        ),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    let rows = audit_rows(&db.pool).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.sequence, 1);
    assert_eq!(
        row.actor_token_id,
        Some(token_id(&db.pool, ADMIN_NAME).await)
    );
    assert_eq!(row.actor_name.as_deref(), Some(ADMIN_NAME));
    assert_eq!(row.actor_role.as_deref(), Some("admin"));
    assert_eq!(row.method, "PUT");
    assert_eq!(row.route, "/v1/license");
    assert_eq!(row.target, None);
    assert_eq!(row.status, 200);
    assert_eq!(row.outcome, "success");
    assert_eq!(row.request_id, request_id(&headers));
    assert_eq!(row.prev_hash, audit::GENESIS_HASH);
    assert_eq!(row.hash, row.compute_hash());
    let age = clock::system().now() - row.occurred_at;
    assert!(age.whole_seconds() < 60, "row written {age} ago");

    db.drop_now().await;
    inventory.stop().await;
}

#[tokio::test]
async fn not_found_change_writes_failure_row() {
    let inventory = RunningInventory::start().await;
    let db = TestDb::new().await;
    prepare(&db).await;
    let app = gateway(db.pool.clone(), &inventory.url);
    let path = format!("/v1/certificates/{UNKNOWN_CERTIFICATE}");

    let (status, _, _) = send(&app, request(Method::DELETE, &path, ADMIN, None)).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    let rows = audit_rows(&db.pool).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].method, "DELETE");
    assert_eq!(rows[0].route, "/v1/certificates/{id}");
    assert_eq!(
        rows[0].target.as_deref(),
        Some(format!("id={UNKNOWN_CERTIFICATE}").as_str())
    );
    assert_eq!(rows[0].status, 404);
    assert_eq!(rows[0].outcome, "failure");

    db.drop_now().await;
    inventory.stop().await;
}

#[tokio::test]
async fn rejected_change_writes_failure_row() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let path = "/v1/certificates/{id}/deployments/{deployment_id}";
    let deployment = "0191d2a0-0000-7000-8000-0000000000d1";
    let uri = format!("/v1/certificates/not-a-uuid/deployments/{deployment}");

    let (status, _, _) = send(&app, request(Method::DELETE, &uri, OPERATOR, None)).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rows = audit_rows(&db.pool).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].route, path);
    assert_eq!(
        rows[0].target.as_deref(),
        Some(format!("id=not-a-uuid&deployment_id={deployment}").as_str())
    );
    assert_eq!(rows[0].actor_name.as_deref(), Some("operator"));
    assert_eq!(rows[0].actor_role.as_deref(), Some("operator"));
    assert_eq!(rows[0].status, 400);
    assert_eq!(rows[0].outcome, "failure");

    db.drop_now().await;
}

#[tokio::test]
async fn forbidden_change_writes_failure_row() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let (status, _, _) = send(
        &app,
        request(
            Method::PUT,
            "/v1/license",
            VIEWER,
            Some(r#"{"licensed":1}"#),
        ),
    )
    .await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    let rows = audit_rows(&db.pool).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_role.as_deref(), Some("viewer"));
    assert_eq!(rows[0].status, 403);
    assert_eq!(rows[0].outcome, "failure");

    db.drop_now().await;
}

#[tokio::test]
async fn reads_write_no_rows() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    for path in ["/v1/orders", "/v1/license", "/v1/audit", "/v1/audit/head"] {
        send(&app, request(Method::GET, path, ADMIN, None)).await;
    }

    assert!(audit_rows(&db.pool).await.is_empty());
    assert_eq!(audit::read_head(&db.pool).await.unwrap().sequence, 0);

    db.drop_now().await;
}

#[tokio::test]
async fn unauthenticated_change_writes_no_row() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    let (status, _, _) = send(
        &app,
        request(Method::PUT, "/v1/license", "ctk_wrong", Some("{}")),
    )
    .await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(audit_rows(&db.pool).await.is_empty());

    db.drop_now().await;
}

#[tokio::test]
async fn request_id_is_kept_or_generated() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let mut with_id = request(Method::PUT, "/v1/license", ADMIN, Some("{}"));
    with_id
        .headers_mut()
        .insert("x-request-id", "caller-id-42".parse().unwrap());
    let mut invalid_id = request(Method::PUT, "/v1/license", ADMIN, Some("{}"));
    invalid_id
        .headers_mut()
        .insert("x-request-id", "x".repeat(200).parse().unwrap());

    let (_, kept, _) = send(&app, with_id).await;
    let (_, generated, _) = send(&app, request(Method::GET, "/v1/license", ADMIN, None)).await;
    let (_, replaced, _) = send(&app, invalid_id).await;

    assert_eq!(request_id(&kept), "caller-id-42");
    let generated = Uuid::parse_str(&request_id(&generated)).unwrap();
    assert_eq!(generated.get_version_num(), 7);
    let replaced = Uuid::parse_str(&request_id(&replaced)).unwrap();
    assert_eq!(replaced.get_version_num(), 7);
    let rows = audit_rows(&db.pool).await;
    assert_eq!(rows[0].request_id, "caller-id-42");
    assert_eq!(rows[1].request_id, replaced.to_string());

    db.drop_now().await;
}

/// A `MakeWriter` that appends the formatted log output to a shared buffer.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per test binary, a global subscriber that captures every test's log output
/// at trace level with span fields. A global one, because a thread-local default misses
/// callsites that tests on other threads registered first.
fn captured_log() -> &'static CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
}

#[tokio::test]
async fn secrets_reach_no_row_and_no_log() {
    let log = captured_log();
    let db = TestDb::new().await;
    let app = app(&db).await;
    let api_key = "entrust-api-key-5f2b9c1d7e";
    let body = format!(r#"{{"name":"demo","username":"demo-admin","api_key":"{api_key}"}}"#);

    let (status, _, _) = send(
        &app,
        request(Method::POST, "/v1/credentials", OPERATOR, Some(&body)),
    )
    .await;
    let (patch_status, _, _) = send(
        &app,
        request(
            Method::PATCH,
            "/v1/credentials/0191d2a0-0000-7000-8000-0000000000c1",
            ADMIN,
            Some(&format!(r#"{{"api_key":"{api_key}"}}"#)),
        ),
    )
    .await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(patch_status, StatusCode::SERVICE_UNAVAILABLE);
    let stored: Vec<String> = sqlx::query_scalar("SELECT audit_log::text FROM audit_log")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for row in &stored {
        assert!(!row.contains(api_key), "audit row holds the API key: {row}");
        assert!(!row.contains(OPERATOR), "audit row holds a token: {row}");
        assert!(!row.contains(ADMIN), "audit row holds a token: {row}");
    }
    let output = log.text();
    assert!(
        output.contains("/v1/credentials"),
        "the request spans were logged: {output}"
    );
    assert!(!output.contains(api_key), "the log holds the API key");
    assert!(!output.contains(OPERATOR), "the log holds a token");
    assert!(!output.contains(ADMIN), "the log holds a token");

    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_keep_one_chain() {
    let db = TestDb::new().await;
    prepare(&db).await;
    let first_pool = db.connect_again().await;
    let second_pool = db.connect_again().await;
    let first = gateway(first_pool.clone(), NO_SERVICE);
    let second = gateway(second_pool.clone(), NO_SERVICE);

    let mut requests = tokio::task::JoinSet::new();
    for index in 0..50 {
        for (name, app) in [("first", &first), ("second", &second)] {
            let app = app.clone();
            let mut change = request(Method::PUT, "/v1/license", ADMIN, Some("{}"));
            let id = format!("{name}-{index}");
            change
                .headers_mut()
                .insert("x-request-id", id.parse().unwrap());
            requests.spawn(async move { app.oneshot(change).await.unwrap().status() });
        }
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::BAD_REQUEST);
    }

    let verification = audit::verify_chain(&db.pool, None).await.unwrap();
    let Verification::Intact(report) = verification else {
        panic!("the chain is intact: {verification:?}");
    };
    assert_eq!(report.count, 100);
    assert_eq!(report.head.sequence, 100);
    let rows = audit_rows(&db.pool).await;
    let from_first = rows
        .iter()
        .filter(|row| row.request_id.starts_with("first-"))
        .count();
    assert_eq!(from_first, 50);

    first_pool.close().await;
    second_pool.close().await;

    db.drop_now().await;
}

#[tokio::test]
async fn audit_routes_need_admin() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    for path in ["/v1/audit", "/v1/audit/head"] {
        for token in [VIEWER, OPERATOR] {
            let (status, _, problem) = send(&app, request(Method::GET, path, token, None)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(problem["detail"].as_str().unwrap().contains("admin"));
        }
        let (status, _, _) = send(&app, request(Method::GET, path, ADMIN, None)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }

    db.drop_now().await;
}

#[tokio::test]
async fn head_route_returns_anchor() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    send(&app, request(Method::PUT, "/v1/license", ADMIN, Some("{}"))).await;

    let (status, _, head) = send(&app, request(Method::GET, "/v1/audit/head", ADMIN, None)).await;

    assert_eq!(status, StatusCode::OK);
    let row = &audit_rows(&db.pool).await[0];
    assert_eq!(head["sequence"], 1);
    assert_eq!(head["hash"], row.hash.as_str());
    assert_eq!(head["anchor"], format!("1:{}", row.hash).as_str());

    db.drop_now().await;
}

/// Returns the sequences of one page of `GET /v1/audit` and its next cursor.
async fn list_page(app: &axum::Router, query: &str) -> (Vec<i64>, Option<String>) {
    let path = format!("/v1/audit?{query}");
    let (status, _, page) = send(app, request(Method::GET, &path, ADMIN, None)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    let sequences = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["sequence"].as_i64().unwrap())
        .collect();
    let cursor = page["next_cursor"].as_str().map(str::to_owned);
    (sequences, cursor)
}

#[tokio::test]
async fn list_pages_newest_first_with_filters() {
    let db = TestDb::new().await;
    let app = app(&db).await;
    let certificate = format!("/v1/certificates/{UNKNOWN_CERTIFICATE}");
    // Rows 1 and 3 are 400s by the admin; row 2 is a 403 by the operator.
    send(&app, request(Method::PUT, "/v1/license", ADMIN, Some("{}"))).await;
    send(&app, request(Method::DELETE, &certificate, OPERATOR, None)).await;
    send(&app, request(Method::PUT, "/v1/license", ADMIN, Some("{}"))).await;
    let operator_id = token_id(&db.pool, "operator").await;

    let (first, cursor) = list_page(&app, "limit=2").await;
    let (second, last_cursor) =
        list_page(&app, &format!("limit=2&cursor={}", cursor.unwrap())).await;
    let (by_actor, _) = list_page(&app, &format!("actor_token_id={operator_id}")).await;
    let (by_method, _) = list_page(&app, "method=put").await;
    let (failures, _) = list_page(&app, "outcome=failure").await;
    let (successes, _) = list_page(&app, "outcome=success").await;
    let (future, _) = list_page(&app, "from=2999-01-01T00:00:00Z").await;
    let (past, _) = list_page(&app, "to=2999-01-01T00:00:00Z").await;

    assert_eq!(first, vec![3, 2]);
    assert_eq!(second, vec![1]);
    assert_eq!(last_cursor, None);
    assert_eq!(by_actor, vec![2]);
    assert_eq!(by_method, vec![3, 1]);
    assert_eq!(failures, vec![3, 2, 1]);
    assert!(successes.is_empty());
    assert!(future.is_empty());
    assert_eq!(past, vec![3, 2, 1]);

    db.drop_now().await;
}

#[tokio::test]
async fn invalid_list_filters_name_the_field() {
    let db = TestDb::new().await;
    let app = app(&db).await;

    for (query, field) in [
        ("actor_token_id=abc", "actor_token_id"),
        ("method=GET", "method"),
        ("outcome=maybe", "outcome"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("cursor=-4", "cursor"),
        ("limit=0", "limit"),
    ] {
        let path = format!("/v1/audit?{query}");
        let (status, _, problem) = send(&app, request(Method::GET, &path, ADMIN, None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(problem["invalid_params"][0]["name"], field, "{query}");
    }

    db.drop_now().await;
}

/// Waits up to 10 seconds for the captured log to contain `text`.
async fn wait_for_log(log: &CapturedLog, text: &str) -> bool {
    for _ in 0..100 {
        if log.text().contains(text) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn running_gateway_logs_chain_head() {
    let log = captured_log();
    let db = TestDb::migrated(&MIGRATOR).await;
    let config: certitude_gateway::Config = certitude_platform::config::load_from_vars([
        ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
        ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
        ("NATS_URL", nats_url()),
        ("CERTITUDE_API_LISTEN", "127.0.0.1:0".to_owned()),
        ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
        ("CERTITUDE_AUDIT_HEAD_LOG_INTERVAL", "100ms".to_owned()),
    ])
    .unwrap();
    let shutdown = Shutdown::new();
    let running = certitude_gateway::start(config, clock::system(), shutdown.clone())
        .await
        .unwrap();

    let empty_logged = wait_for_log(log, &format!("audit.anchor=0:{}", audit::GENESIS_HASH)).await;
    let event = audit::AuditEvent {
        occurred_at: clock::system().now(),
        request_id: "logged-head".to_owned(),
        actor: None,
        method: "POST".to_owned(),
        route: "/v1/syncs".to_owned(),
        target: None,
        status: 202,
    };
    let head = audit::append(&db.pool, event).await.unwrap();
    let new_head_logged = wait_for_log(log, &format!("audit.anchor={head}")).await;
    shutdown.trigger();
    running.wait().await.unwrap();

    assert!(empty_logged, "the empty chain's head was logged");
    assert!(new_head_logged, "the head {head} was logged");

    db.drop_now().await;
}
