//! The README's first steps through the gateway, on every service, the real Postgres and NATS,
//! and the Entrust simulator: add the demo credential, see the synced catalog, import the
//! account's orders, order a certificate and find it in the inventory. The run is captured at
//! TRACE level and searched for secrets afterwards.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine;
use certitude_platform::events::decode_envelope;
use certitude_platform::seal::record_aad;
use certitude_system_tests::{System, capture};
use entrust_sim::Scenario;
use futures::StreamExt;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Certitude's order state for each Entrust status (the table in docs/order-states.md).
fn expected_state(entrust_status: &str) -> &'static str {
    match entrust_status.to_ascii_uppercase().as_str() {
        "PENDING" | "PENDING_QUORUM" | "APPROVED" => "PENDING",
        "READY" | "ACTIVE" | "REISSUING" | "RENEWING" => "ISSUED",
        "REISSUED" | "RENEWED" => "SUPERSEDED",
        "DECLINED" => "DECLINED",
        "SUSPENDED" => "SUSPENDED",
        "REVOKED" => "REVOKED",
        "EXPIRED" => "EXPIRED",
        "DEACTIVATED" => "DEACTIVATED",
        _ => "UNKNOWN",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readme_steps_work_end_to_end() {
    let logs = capture::install();
    let scenario = Scenario::demo();
    let admin = scenario
        .api_users
        .iter()
        .find(|user| user.user_name == "demo-admin")
        .expect("the demo scenario has demo-admin")
        .clone();
    let api_key = admin.api_key.expose_secret().to_owned();
    let system = System::start().await.unwrap();
    let api = system.api();

    // Add the demo credential; it is verified against Entrust and synced at once.
    let (status, credential) = api
        .post(
            "/v1/credentials",
            json!({
                "name": "demo",
                "api_base_url": system.sim.base_url(),
                "username": admin.user_name,
                "api_key": api_key,
                "is_administrator": true,
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{credential}");
    let credential_id = credential["id"].as_str().unwrap().to_owned();
    assert!(!credential.to_string().contains(&api_key));

    // The synced catalog equals the scenario.
    let (status, sync) = api
        .post(&format!("/v1/credentials/{credential_id}/syncs"), json!({}))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{sync}");
    let sync_path = format!("/v1/syncs/{}", sync["id"].as_str().unwrap());
    let sync = api
        .wait_for(&sync_path, WAIT, |run| run["state"] != "running")
        .await
        .unwrap();
    assert_eq!(sync["state"], "succeeded", "{sync}");
    let catalog = |kind: &str| format!("/v1/credentials/{credential_id}/{kind}");
    let organizations = api.get(&catalog("organizations")).await.unwrap();
    let domains = api.get(&catalog("domains")).await.unwrap();
    let products = api.get(&catalog("products")).await.unwrap();
    assert_eq!(
        organizations["items"].as_array().unwrap().len(),
        scenario.organizations.len()
    );
    assert_eq!(
        domains["items"].as_array().unwrap().len(),
        scenario.domains.len()
    );
    assert_eq!(
        products["items"].as_array().unwrap().len(),
        scenario.inventory.len()
    );

    // Import the account's existing orders, twice.
    // Third-party records (tracking id 0) are not orders and are not imported as orders.
    let mut entrust_statuses = simulator_statuses(&system, &admin.user_name, &api_key).await;
    entrust_statuses.retain(|tracking_id, _| *tracking_id != 0);
    assert_eq!(entrust_statuses.len(), scenario.orders.len());
    for round in 0..2 {
        let (status, job) = api
            .post("/v1/imports", json!({ "credential_id": credential_id }))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let job_path = format!("/v1/imports/{}", job["id"].as_str().unwrap());
        let job = api
            .wait_for(&job_path, WAIT, |job| job["state"] != "running")
            .await
            .unwrap();
        assert_eq!(job["state"], "succeeded", "import round {round}: {job}");
        let orders = api.all_pages("/v1/orders").await.unwrap();
        assert_eq!(orders.len(), scenario.orders.len(), "import round {round}");
        for order in &orders {
            let tracking_id = order["tracking_id"].as_i64().unwrap();
            let entrust_status = &entrust_statuses[&tracking_id];
            assert_eq!(
                order["status"],
                expected_state(entrust_status),
                "order {tracking_id} reported {entrust_status} by Entrust"
            );
        }
    }

    // Order a certificate for a verified domain.
    let (status, order) = api
        .call(
            reqwest::Method::POST,
            "/v1/orders",
            Some(json!({
                "credential_id": credential_id,
                "product": "STANDARD_SSL",
                "common_name": "www.example.com",
                "dns_names": ["www.example.com", "example.com"],
                "key_algorithm": "ECDSA_P256",
                "validity_days": 90,
            })),
            Some("readme-first-order"),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let order = api
        .wait_for(&format!("/v1/orders/{order_id}"), WAIT, |order| {
            order["status"] == "ISSUED"
        })
        .await
        .unwrap();
    let tracking_id = order["tracking_id"].as_i64().unwrap();
    let certificate_id = order["certificate_id"].as_str().unwrap().to_owned();

    // The certificate is in the inventory as the simulator issued it.
    let certificate = api
        .wait_for(&format!("/v1/certificates/{certificate_id}"), WAIT, |_| {
            true
        })
        .await
        .unwrap();
    let issued = simulator_order(&system, &admin.user_name, &api_key, tracking_id).await;
    assert_eq!(certificate["serial_number"], issued["serialNumber"]);
    assert_eq!(certificate["not_after"], issued["expiresAfter"]);
    assert!(
        certificate["subject"]
            .as_str()
            .unwrap()
            .contains("CN=www.example.com")
    );
    let dns_names: HashSet<&str> = certificate["dns_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(dns_names, HashSet::from(["www.example.com", "example.com"]));
    assert!(
        !certificate["key_id"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{certificate}"
    );
    assert_chains_to_root(&certificate, &system.sim.root_ca_pem());

    // OrderCreated and CertificateIssued were published once each for this order.
    let events = stream_events(&system).await;
    let created: Vec<_> = events
        .iter()
        .filter(|(event_type, aggregate, _)| {
            event_type.ends_with(".OrderCreated") && aggregate == &order_id
        })
        .collect();
    assert_eq!(created.len(), 1, "OrderCreated events for {order_id}");
    let issued_events: HashSet<_> = events
        .iter()
        .filter(|(event_type, aggregate, _)| {
            event_type.ends_with(".CertificateIssued") && aggregate == &certificate_id
        })
        .map(|(_, _, event_id)| event_id.clone())
        .collect();
    let issued_messages = events
        .iter()
        .filter(|(event_type, aggregate, _)| {
            event_type.ends_with(".CertificateIssued") && aggregate == &certificate_id
        })
        .count();
    assert_eq!(
        issued_events.len(),
        1,
        "CertificateIssued events for {certificate_id}"
    );
    assert_eq!(
        issued_messages, 1,
        "CertificateIssued messages for {certificate_id}"
    );

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{api_key}", admin.user_name));
    // The credential cannot be deleted while orders use it.
    let (status, problem) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/credentials/{credential_id}"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("force"),
        "{problem}"
    );

    let request_log = serde_json::to_string(&system.sim.request_log()).unwrap();
    assert!(
        !request_log.contains(&basic),
        "the simulator's request log holds Basic credentials"
    );
    assert!(
        request_log.contains("/certificates"),
        "the simulator logged the order"
    );
    assert!(
        !request_log.contains(&api_key),
        "the simulator's request log holds the API key"
    );
    let private_keys = generated_private_keys(&system).await;
    assert!(
        !private_keys.is_empty(),
        "inventory holds the order's private key"
    );
    assert_no_secret_stored(&system, &api_key, &private_keys).await;
    system.stop().await.unwrap();

    let text = logs.text();
    assert!(
        text.contains("REST API listening"),
        "the capture saw the services' logs"
    );
    assert!(
        text.contains(" TRACE "),
        "the capture holds TRACE lines of the libraries"
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{api_key}", admin.user_name));
    assert!(
        !text.contains(&api_key),
        "the API key appears in a log line"
    );
    assert!(
        !text.contains(&basic),
        "the Basic credentials appear in a log line"
    );
    assert!(
        !text.contains("PRIVATE KEY-----"),
        "a PEM private key appears in a log line"
    );
    for key in &private_keys {
        assert!(
            !text.contains(&key.pem_body),
            "a private key's PEM body appears in a log line"
        );
        assert!(
            !text.contains(&key.der_hex),
            "a private key's DER appears in a log line"
        );
    }
}

/// A private key that inventory generated, in the text forms a leak would take.
struct LeakForms {
    /// The base64 body of the PKCS#8 PEM, as one line.
    pem_body: String,
    /// Lower-case hexadecimal DER, as Postgres prints bytea.
    der_hex: String,
}

/// Opens every private key inventory sealed, with the test's master key.
async fn generated_private_keys(system: &System) -> Vec<LeakForms> {
    let db = system.inventory_db();
    let rows: Vec<(uuid::Uuid, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, private_key FROM \"{}\".keys",
        db.settings.schema
    )))
    .fetch_all(&db.admin)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, sealed)| {
            let aad = record_aad("keys", "private_key", &id.to_string());
            let der = system.keyring.open(&sealed, &aad).unwrap();
            let der = der.expose_secret();
            LeakForms {
                pem_body: base64::engine::general_purpose::STANDARD.encode(der),
                der_hex: hex_lower(der),
            }
        })
        .collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Returns each order's status as the simulator reports it, by tracking id.
async fn simulator_statuses(system: &System, user: &str, key: &str) -> HashMap<i64, String> {
    let url = format!(
        "{}/certificates?limit=1000&fields=trackingId,status",
        system.sim.base_url()
    );
    let body: Value = reqwest::Client::new()
        .get(url)
        .basic_auth(user, Some(key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| {
            (
                order["trackingId"].as_i64().unwrap(),
                order["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn simulator_order(system: &System, user: &str, key: &str, tracking_id: i64) -> Value {
    let url = format!("{}/certificates/{tracking_id}", system.sim.base_url());
    reqwest::Client::new()
        .get(url)
        .basic_auth(user, Some(key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Checks leaf → chain → the simulator's root with x509-parser signature checks.
fn assert_chains_to_root(certificate: &Value, root_pem: &str) {
    let mut pems = vec![certificate["certificate_pem"].as_str().unwrap().to_owned()];
    for pem in certificate["chain_pem"].as_array().unwrap() {
        pems.push(pem.as_str().unwrap().to_owned());
    }
    pems.push(root_pem.to_owned());
    let ders: Vec<Vec<u8>> = pems
        .iter()
        .map(|pem| {
            x509_parser::pem::parse_x509_pem(pem.as_bytes())
                .unwrap()
                .1
                .contents
        })
        .collect();
    // Entrust's chain starts with the leaf again; skip a repeated certificate.
    let mut unique: Vec<&Vec<u8>> = Vec::new();
    for der in &ders {
        if unique.last() != Some(&der) {
            unique.push(der);
        }
    }
    let parsed: Vec<_> = unique
        .iter()
        .map(|der| x509_parser::parse_x509_certificate(der).unwrap().1)
        .collect();
    for pair in parsed.windows(2) {
        pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .expect("each certificate is signed by the next one up to the simulator's root");
    }
    let root = parsed.last().unwrap();
    root.verify_signature(None)
        .expect("the root is self-signed");
}

/// Reads every message of the test stream as (event type, aggregate id, event id).
async fn stream_events(system: &System) -> Vec<(String, String, String)> {
    let stream = system
        .nats
        .jetstream
        .get_stream(&system.nats.settings.stream)
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut events = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(2), messages.next()).await;
        let Ok(Some(message)) = next else { break };
        let message = message.unwrap();
        let envelope = decode_envelope(&message.payload).unwrap();
        let header_id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .map(|value| value.to_string());
        assert_eq!(header_id.as_deref(), Some(envelope.event_id.as_str()));
        events.push((
            envelope.event_type,
            envelope.aggregate_id,
            envelope.event_id,
        ));
    }
    events
}

/// Searches every row of every service schema for the API key and for generated private keys.
async fn assert_no_secret_stored(system: &System, api_key: &str, private_keys: &[LeakForms]) {
    for db in &system.databases {
        let schema = &db.settings.schema;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
        )
        .bind(schema)
        .fetch_all(&db.admin)
        .await
        .unwrap();
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT t::text FROM \"{schema}\".\"{table}\" t"
            )))
            .fetch_all(&db.admin)
            .await
            .unwrap();
            for row in rows {
                assert!(!row.contains(api_key), "{schema}.{table} holds the API key");
                assert!(
                    !row.contains("PRIVATE KEY"),
                    "{schema}.{table} holds a PEM private key"
                );
                for key in private_keys {
                    assert!(
                        !row.contains(&key.der_hex),
                        "{schema}.{table} holds a private key"
                    );
                    assert!(
                        !row.contains(&key.pem_body),
                        "{schema}.{table} holds a private key"
                    );
                }
            }
        }
    }
}
