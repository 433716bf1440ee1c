//! HTTPS and client certificates: users bound to a certificate must present exactly that one
//! over TLS; other users need none.

use certitude_clock::ManualClock;
use entrust_sim::{RunningSimulator, Scenario, SimConfig, SimOptions};
use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{ADMIN, NOW, Reply, TestSim, assert_error, reply};

const MTLS_USER: (&str, &str) = ("demo-mtls", "sim-demo-mtls-key");

async fn start_tls(scenario: Scenario) -> RunningSimulator {
    RunningSimulator::start_with(
        SimConfig {
            scenario,
            clock: ManualClock::new(NOW).shared(),
            listen: "127.0.0.1:0".parse().unwrap(),
        },
        SimOptions {
            tls: true,
            manual_clock: None,
        },
    )
    .await
    .expect("simulator starts with TLS")
}

/// Builds a client that trusts only the simulator's root and presents `identity` (PEM
/// certificate followed by PEM key), if given.
fn tls_client(sim: &RunningSimulator, identity: Option<String>) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(sim.root_ca_pem().as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([root]);
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn get(
    client: &reqwest::Client,
    sim: &RunningSimulator,
    path: &str,
    user: (&str, &str),
) -> Reply {
    let request = client
        .get(format!("{}{path}", sim.base_url()))
        .basic_auth(user.0, Some(user.1));
    reply(request).await
}

/// Returns a self-signed client certificate and its key, as PEM.
fn own_certificate(common_name: &str) -> (String, String) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let certificate = params.self_signed(&key).unwrap();
    (certificate.pem(), key.serialize_pem())
}

fn generated_identity(sim: &RunningSimulator) -> String {
    let identity = sim.client_identity(MTLS_USER.0).expect("demo-mtls has one");
    format!(
        "{}{}",
        identity.certificate_pem,
        identity.private_key_pem.expose_secret()
    )
}

#[tokio::test]
async fn https_serves_users_without_bound_certificates() {
    let sim = start_tls(Scenario::demo()).await;
    let client = tls_client(&sim, None);

    let reply = get(&client, &sim, "/application/version", ADMIN).await;

    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    assert!(sim.is_tls());
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    sim.shutdown().await;
}

#[tokio::test]
async fn bound_user_with_its_certificate_is_accepted() {
    let sim = start_tls(Scenario::demo()).await;
    let client = tls_client(&sim, Some(generated_identity(&sim)));

    let listed = get(&client, &sim, "/certificates?limit=1", MTLS_USER).await;
    let approve = reply(
        client
            .patch(format!("{}/certificates/2100014", sim.base_url()))
            .basic_auth(MTLS_USER.0, Some(MTLS_USER.1))
            .json(&json!({"operation": "APPROVE"})),
    )
    .await;

    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_error(&approve, StatusCode::FORBIDDEN, None);
    let log = serde_json::to_string(&sim.request_log()).unwrap();
    assert!(log.contains("demo-mtls"), "{log}");
    assert!(
        !log.contains("BEGIN"),
        "the log holds no certificate or key: {log}"
    );
    assert!(
        !log.contains(MTLS_USER.1),
        "the log holds no API key: {log}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bound_user_without_certificate_is_401() {
    let sim = start_tls(Scenario::demo()).await;
    let client = tls_client(&sim, None);

    let reply = get(&client, &sim, "/application/version", MTLS_USER).await;

    let message = assert_error(&reply, StatusCode::UNAUTHORIZED, None);
    assert!(message.contains("demo-mtls"), "{message}");
    assert!(message.contains("TLS handshake"), "{message}");
    sim.shutdown().await;
}

#[tokio::test]
async fn bound_user_with_another_certificate_is_401() {
    let sim = start_tls(Scenario::demo()).await;
    let (certificate, key) = own_certificate("impostor");
    let client = tls_client(&sim, Some(format!("{certificate}{key}")));

    let reply = get(&client, &sim, "/application/version", MTLS_USER).await;
    let admin = get(&client, &sim, "/application/version", ADMIN).await;

    let message = assert_error(&reply, StatusCode::UNAUTHORIZED, None);
    assert!(message.contains("not the one bound"), "{message}");
    assert_eq!(
        admin.status,
        StatusCode::OK,
        "unbound users ignore certificates"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bound_user_over_plain_http_is_401() {
    let sim = TestSim::start().await;

    let reply = sim.get_as("/application/version", MTLS_USER).await;

    let message = assert_error(&reply, StatusCode::UNAUTHORIZED, None);
    assert!(message.contains("plain HTTP"), "{message}");
}

#[tokio::test]
async fn wrong_key_with_right_certificate_is_401() {
    let sim = start_tls(Scenario::demo()).await;
    let client = tls_client(&sim, Some(generated_identity(&sim)));

    let reply = get(
        &client,
        &sim,
        "/application/version",
        (MTLS_USER.0, "wrong"),
    )
    .await;

    let message = assert_error(&reply, StatusCode::UNAUTHORIZED, None);
    assert!(message.contains("API key is wrong"), "{message}");
    sim.shutdown().await;
}

#[tokio::test]
async fn certificate_brought_by_the_scenario_is_enforced() {
    let (certificate, key) = own_certificate("ops-robot");
    let mut scenario = Scenario::demo();
    scenario.api_users[0].client_certificate_pem = Some(certificate.clone());
    let sim = start_tls(scenario).await;
    let with_certificate = tls_client(&sim, Some(format!("{certificate}{key}")));
    let without = tls_client(&sim, None);

    let accepted = get(&with_certificate, &sim, "/clients", ADMIN).await;
    let rejected = get(&without, &sim, "/clients", ADMIN).await;

    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_error(&rejected, StatusCode::UNAUTHORIZED, None);
    assert!(sim.client_identity(ADMIN.0).is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_hands_out_generated_identity_only() {
    let sim = TestSim::start().await;

    let generated = sim
        .control(Method::GET, "/users/demo-mtls/client-certificate")
        .await;
    let none = sim
        .control(Method::GET, "/users/demo-admin/client-certificate")
        .await;

    assert_eq!(generated.status, StatusCode::OK);
    let identity = sim.sim.client_identity("demo-mtls").unwrap();
    assert_eq!(generated.body["certificate"], identity.certificate_pem);
    assert_eq!(
        generated.body["privateKey"],
        identity.private_key_pem.expose_secret()
    );
    assert_error(&none, StatusCode::NOT_FOUND, None);
    assert!(!format!("{identity:?}").contains("PRIVATE KEY"));
}
