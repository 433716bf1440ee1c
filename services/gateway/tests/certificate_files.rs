//! The certificate file routes: roles and limits against an absent inventory, and imports and
//! exports through a real inventory on the local Postgres and NATS. The certificate files come
//! from `crates/certfile/tests/fixtures` (see the README there for their sources and licenses).

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use certitude_certfile as certfile;
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::tokens::token_digest;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use http_body_util::BodyExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "ctk_test-admin-token-0123456789";
const OPERATOR: &str = "ctk_test-operator-token-0123456789";
const VIEWER: &str = "ctk_test-viewer-token-0123456789";
const CERTIFICATE: &str = "0191d2a0-0000-7000-8000-0000000000c1";
const BOUNDARY: &str = "certitude-test-boundary-5d1e";
/// The nearest port where nothing listens: calls that pass the checks get 503.
const NO_SERVICE: &str = "http://127.0.0.1:9";

/// Name of the token that `auth::store_bootstrap_token` stores.
const ADMIN_NAME: &str = "bootstrap-admin";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../crates/certfile/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|error| panic!("fixture {full} is readable: {error}"))
}

async fn app(db: &TestDb, inventory_url: &str) -> axum::Router {
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
    let clients = ServiceClients::connect(
        NO_SERVICE,
        NO_SERVICE,
        inventory_url,
        Duration::from_secs(30),
    )
    .unwrap();
    router(AppState {
        pool: db.pool.clone(),
        clients,
        clock: clock::system(),
    })
}

/// A part of a multipart body: field name, file name and content.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content: &'a [u8],
}

fn file_part<'a>(file_name: &'a str, content: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        content,
    }
}

fn multipart_body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend(format!("--{BOUNDARY}\r\n").into_bytes());
        match part.file_name {
            Some(file_name) => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n",
                    part.name
                )
                .into_bytes(),
            ),
            None => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    part.name
                )
                .into_bytes(),
            ),
        }
        body.extend_from_slice(part.content);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").into_bytes());
    body
}

fn import_request(token: &str, parts: &[Part<'_>]) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/v1/certificates/import")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(multipart_body(parts)))
        .unwrap()
}

fn export_request(token: &str, id: &str, query: &str) -> Request<Body> {
    Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/certificates/{id}/export?{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn pkcs12_request(token: &str, id: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/certificates/{id}/export"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Sends the request and returns the status, the headers and the body.
async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

async fn send_json(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = send(app, request).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Builds a route's request for a token.
type RequestFor<'a> = Box<dyn Fn(&str) -> Request<Body> + 'a>;

#[tokio::test]
async fn each_file_route_needs_its_role() {
    let db = TestDb::new().await;
    let app = app(&db, NO_SERVICE).await;
    let pem = fixture("generated/root.pem");
    let routes: Vec<(&str, RequestFor<'_>, &str)> = vec![
        (
            "import",
            Box::new(|token| import_request(token, &[file_part("root.pem", &pem)])),
            "operator",
        ),
        (
            "leaf export",
            Box::new(|token| export_request(token, CERTIFICATE, "format=pem&part=leaf")),
            "viewer",
        ),
        (
            "full chain export",
            Box::new(|token| export_request(token, CERTIFICATE, "part=fullchain")),
            "viewer",
        ),
        (
            "key export",
            Box::new(|token| export_request(token, CERTIFICATE, "format=pem&part=key")),
            "admin",
        ),
        (
            "PKCS#12 export",
            Box::new(|token| pkcs12_request(token, CERTIFICATE, r#"{"password":"secret"}"#)),
            "admin",
        ),
    ];
    let tokens = [("viewer", VIEWER), ("operator", OPERATOR), ("admin", ADMIN)];
    let rank = |role: &str| tokens.iter().position(|(name, _)| *name == role).unwrap();

    for (label, request, needed) in &routes {
        for (role, token) in tokens {
            let (status, problem) = send_json(&app, request(token)).await;

            if rank(role) < rank(needed) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{label} as {role}");
                assert!(
                    problem["detail"].as_str().unwrap().contains(needed),
                    "{label} as {role}: {problem}"
                );
            } else {
                // The role check passed and the call reached the absent inventory.
                assert_eq!(
                    status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{label} as {role}: {problem}"
                );
            }
        }
    }
    db.drop_now().await;
}

#[tokio::test]
async fn import_limits_name_the_limit() {
    let db = TestDb::new().await;
    let app = app(&db, NO_SERVICE).await;

    let names: Vec<String> = (0..1001).map(|index| format!("{index}.pem")).collect();
    let parts: Vec<Part<'_>> = names.iter().map(|name| file_part(name, b"x")).collect();
    let (status, problem) = send_json(&app, import_request(OPERATOR, &parts)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        problem["detail"].as_str().unwrap().contains("1000 files"),
        "{problem}"
    );

    let over_content = vec![b'a'; 64 * 1024 * 1024 + 1];
    let (status, problem) = send_json(
        &app,
        import_request(OPERATOR, &[file_part("big.pem", &over_content)]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        problem["detail"].as_str().unwrap().contains("64 MiB"),
        "{problem}"
    );

    let over_body = vec![b'a'; 66 * 1024 * 1024];
    let (status, problem) = send_json(
        &app,
        import_request(OPERATOR, &[file_part("bigger.pem", &over_body)]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        problem["detail"].as_str().unwrap().contains("64 MiB"),
        "{problem}"
    );
    db.drop_now().await;
}

#[tokio::test]
async fn malformed_imports_are_named() {
    let db = TestDb::new().await;
    let app = app(&db, NO_SERVICE).await;

    let json = Request::builder()
        .method(Method::POST)
        .uri("/v1/certificates/import")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (status, problem) = send_json(&app, json).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data"),
        "{problem}"
    );

    let password_only = [Part {
        name: "password",
        file_name: None,
        content: b"secret",
    }];
    let (status, problem) = send_json(&app, import_request(OPERATOR, &password_only)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "file");

    let unknown = [Part {
        name: "certificate",
        file_name: Some("a.pem"),
        content: b"x",
    }];
    let (status, problem) = send_json(&app, import_request(OPERATOR, &unknown)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "certificate");

    let (status, problem) = send_json(
        &app,
        export_request(VIEWER, CERTIFICATE, "format=pkcs12&part=leaf"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "format");

    let (status, problem) = send_json(
        &app,
        pkcs12_request(ADMIN, CERTIFICATE, r#"{"password":""}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "password");

    let (status, problem) = send_json(&app, export_request(VIEWER, "cert-1", "part=leaf")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["invalid_params"][0]["name"], "id");
    db.drop_now().await;
}

/// An inventory started in process on its own schema and streams.
struct RunningInventory {
    db: TestDb,
    nats: TestNats,
    url: String,
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

/// Returns the id of the certificate of the first file whose subject contains `subject`.
fn certificate_id(result: &Value, subject: &str) -> String {
    result["files"][0]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|certificate| certificate["subject"].as_str().unwrap().contains(subject))
        .unwrap_or_else(|| panic!("{subject} is in {result}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn files_import_and_export_through_the_inventory() {
    let inventory = RunningInventory::start().await;
    let db = TestDb::new().await;
    let app = app(&db, &inventory.url).await;
    let bundle = [
        fixture("generated/leaf.pem"),
        fixture("generated/intermediate.pem"),
        fixture("generated/root.pem"),
        fixture("generated/leaf.key.pem"),
    ]
    .concat();

    let (status, imported) = send_json(
        &app,
        import_request(OPERATOR, &[file_part("bundle.pem", &bundle)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert_eq!(imported["files"][0]["name"], "bundle.pem");
    assert_eq!(imported["files"][0]["format"], "pem");
    assert_eq!(imported["files"][0]["certificates_added"], 3);
    assert_eq!(imported["files"][0]["keys_stored"], 1);
    assert_eq!(imported["certificates_added"], 3);
    let leaf_id = certificate_id(&imported, "leaf.certitude.test");
    let root_id = certificate_id(&imported, "Certitude Test Root");

    // The password part opens the PKCS#12 file, which contains the same certificates and key.
    let p12 = fixture("generated/leaf-chain-aes256.p12");
    let parts = [
        file_part("leaf.p12", &p12),
        Part {
            name: "password",
            file_name: None,
            content: b"certitude",
        },
    ];
    let (status, again) = send_json(&app, import_request(OPERATOR, &parts)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["files"][0]["format"], "pkcs12");
    assert_eq!(again["files"][0]["duplicates"], 3);
    assert_eq!(again["files"][0]["keys_stored"], 0);
    assert_eq!(certificate_id(&again, "leaf.certitude.test"), leaf_id);

    let (status, headers, body) = send(
        &app,
        export_request(VIEWER, &leaf_id, "format=pem&part=fullchain"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/pem-certificate-chain"
    );
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"{leaf_id}.fullchain.pem\"").as_str()
    );
    assert!(headers.get(header::CACHE_CONTROL).is_none());
    assert_eq!(certfile::import(&body, None).unwrap().certificates.len(), 2);

    for token in [VIEWER, OPERATOR] {
        let (status, _, _) = send(&app, export_request(token, &leaf_id, "part=key")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = send(
            &app,
            pkcs12_request(token, &leaf_id, r#"{"password":"export-pass"}"#),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    let (status, headers, body) = send(&app, export_request(ADMIN, &leaf_id, "part=key")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let key = certfile::import(&body, None).unwrap();
    assert_eq!(key.keys.len(), 1);

    let (status, headers, body) = send(
        &app,
        pkcs12_request(
            ADMIN,
            &leaf_id,
            r#"{"password":"export-pass","legacy":true}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pkcs12");
    let password = SecretString::from("export-pass");
    let read = certfile::import(&body, Some(&password)).unwrap();
    assert_eq!(read.certificates.len(), 3);
    assert_eq!(read.keys.len(), 1);

    let (status, problem) = send_json(&app, export_request(ADMIN, &root_id, "part=key")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no private key"),
        "{problem}"
    );

    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, format FROM key_exports ORDER BY exported_at, id")
            .fetch_all(&inventory.db.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            (ADMIN_NAME.to_owned(), "pem".to_owned()),
            (ADMIN_NAME.to_owned(), "pkcs12".to_owned())
        ]
    );
    db.drop_now().await;
    inventory.stop().await;
}
