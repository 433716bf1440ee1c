//! One order placed through the gateway is one trace: the services export their spans over
//! OTLP/gRPC to a receiver in this process, and the trace of `POST /v1/orders` contains the spans of
//! gateway, order-manager, inventory (its gRPC call and its event consumer) and the Entrust HTTP
//! call, each linked to a parent in the same trace across the gRPC and NATS hops.
//!
//! The same run exports the metrics: the test checks that the instruments of each service moved
//! and that every metric the Grafana dashboards in deploy/grafana query is one the services
//! export, under the name the Collector's Prometheus exporter gives it.
//!
//! The telemetry subscriber is global to the process, so every in-process service exports
//! through one tracer provider with one `service.name`. The spans tell the services apart by
//! what each one names: the gateway's `http.route`, the gRPC service in `rpc.service`, the
//! durable consumer in `consumer` and the Entrust endpoint in `entrust.endpoint`.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use certitude_platform::seal::record_aad;
use certitude_platform::telemetry::{self, TelemetryGuard, TelemetrySettings};
use certitude_system_tests::otlp::{OtlpReceiver, attribute};
use certitude_system_tests::{ADMIN_TOKEN, System};
use entrust_sim::Scenario;
use opentelemetry_proto::tonic::trace::v1::Span;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// Durable consumer of inventory that stores issued certificates.
const INVENTORY_CONSUMER: &str = "inventory-certificate-issued";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_is_one_trace_across_services() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let guard = telemetry::init(
        "certitude-system-test",
        &TelemetrySettings {
            log_filter: "info".to_owned(),
            otlp_endpoint: Some(receiver.endpoint.clone()),
            ..TelemetrySettings::default()
        },
    )
    .unwrap();
    let scenario = Scenario::demo();
    let admin = scenario
        .api_users
        .iter()
        .find(|user| user.user_name == "demo-admin")
        .unwrap();
    let api_key = admin.api_key.expose_secret().to_owned();
    let system = System::start().await.unwrap();
    let api = system.api();

    let (status, credential) = api
        .post(
            "/v1/credentials",
            json!({
                "name": "demo",
                "api_base_url": system.sim.base_url(),
                "username": admin.user_name,
                "api_key": api_key,
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{credential}");
    // A limit, so that the license gauges have both series.
    let (status, license) = api
        .call(
            Method::PUT,
            "/v1/license",
            Some(json!({ "licensed": 100 })),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{license}");
    let (status, order) = api
        .call(
            Method::POST,
            "/v1/orders",
            Some(json!({
                "credential_id": credential["id"],
                "product": "STANDARD_SSL",
                "common_name": "www.example.com",
                "key_algorithm": "ECDSA_P256",
            })),
            Some("traced-order"),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_path = format!("/v1/orders/{}", order["id"].as_str().unwrap());
    let order = api
        .wait_for(&order_path, WAIT, |order| order["status"] == "ISSUED")
        .await
        .unwrap();
    let certificate_path = format!(
        "/v1/certificates/{}",
        order["certificate_id"].as_str().unwrap()
    );
    api.wait_for(&certificate_path, WAIT, |_| true)
        .await
        .unwrap();

    let trace = wait_for_order_trace(&receiver, &guard).await;
    let root = trace.root();
    assert_eq!(
        attribute(&root.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(&root.attributes, "http.response.status_code").as_deref(),
        Some("201")
    );
    let create_order = trace
        .find(|span| rpc(span) == Some(("certitude.order.v1.OrderService", "CreateOrder")))
        .expect("order-manager's CreateOrder span is in the order's trace");
    let generate_key = trace
        .find(|span| rpc(span) == Some(("certitude.inventory.v1.InventoryService", "GenerateKey")))
        .expect("inventory's GenerateKey span is in the order's trace");
    let entrust_call = trace
        .find(|span| {
            attribute(&span.attributes, "entrust.endpoint").is_some()
                && attribute(&span.attributes, "http.request.method").as_deref() == Some("POST")
        })
        .expect("the Entrust order call is in the order's trace");
    let consumed = trace
        .find(|span| attribute(&span.attributes, "consumer").as_deref() == Some(INVENTORY_CONSUMER))
        .expect("inventory's CertificateIssued consumer span is in the order's trace");

    let outbox_insert = trace
        .find(|span| {
            attribute(&span.attributes, "db.collection.name").as_deref() == Some("outbox")
                && trace.descends_from(span, create_order)
        })
        .expect("order-manager's outbox INSERT is in the order's trace");
    let inbox_insert = trace
        .find(|span| {
            attribute(&span.attributes, "db.collection.name").as_deref() == Some("inbox")
                && trace.descends_from(span, consumed)
        })
        .expect("the consumer's inbox INSERT is in the order's trace");

    for statement in [outbox_insert, inbox_insert] {
        assert_eq!(
            attribute(&statement.attributes, "db.system.name").as_deref(),
            Some("postgresql")
        );
        assert_eq!(
            attribute(&statement.attributes, "db.operation.name").as_deref(),
            Some("INSERT")
        );
    }
    assert_eq!(outbox_insert.name, "INSERT outbox");
    assert!(trace.descends_from(create_order, root));
    assert!(trace.descends_from(generate_key, create_order));
    assert!(trace.descends_from(entrust_call, create_order));
    // The NATS hop: the consumer's span continues the span that wrote the outbox row.
    assert!(trace.descends_from(consumed, create_order));
    assert!(
        attribute(&consumed.attributes, "event.type")
            .unwrap_or_default()
            .ends_with("CertificateIssued")
    );
    assert_eq!(
        attribute(&consumed.attributes, "messaging.system").as_deref(),
        Some("nats")
    );
    assert_eq!(
        attribute(&consumed.attributes, "messaging.operation.type").as_deref(),
        Some("process")
    );
    assert!(consumed.name.starts_with("process "), "{}", consumed.name);

    let url_path = attribute(&entrust_call.attributes, "url.path").unwrap();
    assert!(url_path.ends_with("/certificates"), "url.path {url_path}");
    assert_eq!(
        attribute(&entrust_call.attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attribute(&entrust_call.attributes, "http.response.status_code").as_deref(),
        Some("201")
    );

    for span in &trace.spans {
        assert!(
            span == root || trace.parent(span).is_some(),
            "span {:?} names a parent that is not in the trace",
            span.name
        );
    }

    wait_for_metrics(&receiver, &guard).await;
    assert_metrics_moved(&receiver);
    assert_dashboards_query_exported_metrics(&receiver);

    let private_keys = private_keys(&system).await;
    assert!(!private_keys.is_empty(), "inventory holds the order's key");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{api_key}", admin.user_name));
    let values = receiver.attribute_values();
    for value in &values {
        assert!(!value.contains(&api_key), "exported API key: {value}");
        assert!(
            !value.contains(&basic),
            "exported Basic credentials: {value}"
        );
        assert!(!value.contains(ADMIN_TOKEN), "exported token: {value}");
        assert!(!value.contains("PRIVATE KEY"), "exported key: {value}");
        for key in &private_keys {
            assert!(!value.contains(key.as_str()), "exported private key");
        }
    }
    system.stop().await.unwrap();
}

/// The spans of one trace, with the gateway's `POST /v1/orders` span as the root.
struct Trace {
    spans: Vec<Span>,
    root_index: usize,
}

impl Trace {
    fn root(&self) -> &Span {
        &self.spans[self.root_index]
    }

    fn find(&self, predicate: impl Fn(&Span) -> bool) -> Option<&Span> {
        self.spans.iter().find(|span| predicate(span))
    }

    fn parent(&self, span: &Span) -> Option<&Span> {
        self.spans
            .iter()
            .find(|candidate| candidate.span_id == span.parent_span_id)
    }

    /// Returns whether `ancestor` is reached from `span` by following parent ids within the trace.
    fn descends_from(&self, span: &Span, ancestor: &Span) -> bool {
        let mut current = span;
        for _ in 0..self.spans.len() {
            let Some(parent) = self.parent(current) else {
                return false;
            };
            if parent.span_id == ancestor.span_id {
                return true;
            }
            current = parent;
        }
        false
    }

    /// Returns whether the consumer's span and every parent that a span names were exported.
    fn is_complete(&self) -> bool {
        let has_consumer = self.spans.iter().any(|span| {
            attribute(&span.attributes, "consumer").as_deref() == Some(INVENTORY_CONSUMER)
        });
        let parents_known = self
            .spans
            .iter()
            .enumerate()
            .all(|(index, span)| index == self.root_index || self.parent(span).is_some());
        has_consumer && parents_known
    }
}

/// Flushes the exporter until the trace of `POST /v1/orders` contains inventory's consumer span
/// and every parent it names, or fails after [`WAIT`].
async fn wait_for_order_trace(receiver: &OtlpReceiver, guard: &TelemetryGuard) -> Trace {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        tokio::task::block_in_place(|| guard.flush()).unwrap();
        let trace = order_trace(receiver.spans());
        if let Some(trace) = &trace
            && trace.is_complete()
        {
            return order_trace(receiver.spans()).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order's trace is incomplete after {WAIT:?}: {:?}",
            trace.map(|trace| span_names(&trace.spans))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Returns the spans of the trace whose root is the gateway's `POST /v1/orders` span.
fn order_trace(spans: Vec<Span>) -> Option<Trace> {
    let root = spans.iter().find(|span| {
        span.parent_span_id.is_empty()
            && attribute(&span.attributes, "http.route").as_deref() == Some("/v1/orders")
            && attribute(&span.attributes, "http.request.method").as_deref() == Some("POST")
    })?;
    let trace_id = root.trace_id.clone();
    let root_span_id = root.span_id.clone();
    let spans: Vec<Span> = spans
        .into_iter()
        .filter(|span| span.trace_id == trace_id)
        .collect();
    let root_index = spans.iter().position(|span| span.span_id == root_span_id)?;
    Some(Trace { spans, root_index })
}

/// Returns the `rpc.service` and `rpc.method` of a gRPC server span.
fn rpc(span: &Span) -> Option<(&str, &str)> {
    let service = attribute(&span.attributes, "rpc.service")?;
    let method = attribute(&span.attributes, "rpc.method")?;
    let name = format!("{service}/{method}");
    (span.name == name).then(|| span.name.split_once('/'))?
}

fn span_names(spans: &[Span]) -> HashMap<String, usize> {
    let mut names = HashMap::new();
    for span in spans {
        *names.entry(span.name.clone()).or_default() += 1;
    }
    names
}

/// Returns every private key inventory generated, opened with the system's keyring, as its PEM
/// body (base64 of the DER) and as lowercase hex of the DER, the forms a leak would take.
async fn private_keys(system: &System) -> Vec<String> {
    let db = system.inventory_db();
    let rows: Vec<(uuid::Uuid, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, private_key FROM \"{}\".keys",
        db.settings.schema
    )))
    .fetch_all(&db.admin)
    .await
    .unwrap();
    let mut forms = Vec::new();
    for (id, sealed) in rows {
        let aad = record_aad("keys", "private_key", &id.to_string());
        let der = system.keyring.open(&sealed, &aad).unwrap();
        let der = der.expose_secret();
        forms.push(base64::engine::general_purpose::STANDARD.encode(der));
        forms.push(der.iter().map(|byte| format!("{byte:02x}")).collect());
    }
    forms
}

/// Returns the sum of the latest values of `name` over the points whose attributes include
/// every pair of `filter`.
fn metric_total(receiver: &OtlpReceiver, name: &str, filter: &[(&str, &str)]) -> f64 {
    receiver
        .latest_points(name)
        .iter()
        .filter(|point| {
            filter
                .iter()
                .all(|(key, value)| point.attribute(key).as_deref() == Some(*value))
        })
        .map(|point| point.value)
        .sum()
}

/// Flushes the exporter until the database gauges show the issued order, which they read
/// every 10 seconds, or fails after [`WAIT`].
async fn wait_for_metrics(receiver: &OtlpReceiver, guard: &TelemetryGuard) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        tokio::task::block_in_place(|| guard.flush()).unwrap();
        let issued = metric_total(receiver, "certitude.orders", &[("status", "ISSUED")]);
        let held = metric_total(receiver, "certitude.license.held", &[]);
        let limit = metric_total(receiver, "certitude.license.limit", &[]);
        let issuance = metric_total(receiver, "certitude.issuance.duration", &[]);
        if issued >= 1.0 && held >= 1.0 && limit == 100.0 && issuance >= 1.0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics did not move within {WAIT:?}: orders ISSUED {issued}, license held {held} \
             of {limit}, issuance samples {issuance}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn assert_metrics_moved(receiver: &OtlpReceiver) {
    let order_call = [("endpoint", "POST /certificates"), ("outcome", "success")];
    assert!(metric_total(receiver, "entrust.requests", &order_call) >= 1.0);
    assert!(metric_total(receiver, "entrust.request.duration", &order_call) >= 1.0);
    assert!(metric_total(receiver, "certitude.sync.runs", &[("outcome", "succeeded")]) >= 1.0);
    let product = [("product", "STANDARD_SSL")];
    assert!(metric_total(receiver, "certitude.issuance.duration", &product) >= 1.0);
    let issued = [("status", "ISSUED"), ("product", "STANDARD_SSL")];
    assert!(metric_total(receiver, "certitude.orders", &issued) >= 1.0);

    // Gauges that are zero in a quiet system are still exported, one point per series.
    for (name, filter) in [
        ("certitude.outbox.backlog", ("service", "order-manager")),
        ("certitude.outbox.oldest_age", ("service", "inventory")),
        ("certitude.certificates.expiring", ("within", "7d")),
        ("certitude.certificates.expiring", ("within", "30d")),
        (
            "certitude.consumer.pending",
            ("consumer", INVENTORY_CONSUMER),
        ),
        (
            "certitude.consumer.ack_pending",
            ("consumer", INVENTORY_CONSUMER),
        ),
    ] {
        let exported = receiver
            .latest_points(name)
            .iter()
            .any(|point| point.attribute(filter.0).as_deref() == Some(filter.1));
        assert!(
            exported,
            "{name} has no point with {}={}",
            filter.0, filter.1
        );
    }
}

/// Checks that each Grafana dashboard is valid dashboard JSON and that every metric its queries
/// name is exported under that Prometheus name.
fn assert_dashboards_query_exported_metrics(receiver: &OtlpReceiver) {
    let exported = receiver.prometheus_names();
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana");
    let mut dashboards = 0;
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|extension| extension.to_str()) != Some("json") {
            continue;
        }
        dashboards += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let dashboard: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(dashboard["uid"].is_string(), "{file} has no uid");
        assert!(dashboard["title"].is_string(), "{file} has no title");
        assert!(
            dashboard["schemaVersion"].is_u64(),
            "{file} has no schemaVersion"
        );
        let panels = dashboard["panels"].as_array().unwrap();
        assert!(!panels.is_empty(), "{file} has no panels");
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or_default();
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: panel {title:?} has no query");
            for target in targets {
                let expr = target["expr"].as_str().unwrap();
                let names = metric_names(expr);
                assert!(
                    !names.is_empty(),
                    "{file}: {title:?} queries no metric: {expr}"
                );
                for name in names {
                    assert!(
                        exported.contains(&name),
                        "{file}: panel {title:?} queries {name}, which is not exported; \
                         exported: {exported:?}"
                    );
                }
            }
        }
    }
    assert!(
        dashboards >= 4,
        "found {dashboards} dashboards in deploy/grafana"
    );
}

/// Returns the metric names in a PromQL expression: every identifier that starts with one of
/// the prefixes of Certitude's instruments.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    for character in expr.chars().chain(std::iter::once(' ')) {
        if character.is_ascii_alphanumeric() || character == '_' || character == ':' {
            current.push(character);
            continue;
        }
        if current.starts_with("certitude_") || current.starts_with("entrust_") {
            names.push(current.clone());
        }
        current.clear();
    }
    names
}
