//! The control API: request log, CA certificates, clock and approvals of unknown orders.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entrust_sim::LoggedRequest;
use reqwest::{Method, StatusCode};

use crate::helpers::{ADMIN, NOW, TestSim, assert_error, ec_csr};

#[tokio::test]
async fn request_log_records_calls_without_secrets() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("log.example.com", &[]);
    sim.get("/certificates?status=ACTIVE&limit=2").await;
    sim.get_as("/organizations", ("demo-admin", "wrong-key"))
        .await;
    sim.post(
        "/certificates",
        &serde_json::json!({"certType": "STANDARD_SSL", "csr": csr, "certExpiryDate": "2027-01-01"}),
    )
    .await;

    let reply = sim.control(Method::GET, "/requests").await;

    assert_eq!(reply.status, StatusCode::OK);
    let entries: Vec<LoggedRequest> = serde_json::from_value(reply.body.clone()).unwrap();
    assert_eq!(entries, sim.sim.request_log());
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].method, "GET");
    assert_eq!(entries[0].path, "/enterprise/v2/certificates");
    assert_eq!(entries[0].query.as_deref(), Some("status=ACTIVE&limit=2"));
    assert_eq!(entries[0].status, 200);
    assert_eq!(entries[0].user_name.as_deref(), Some("demo-admin"));
    assert_eq!(entries[0].time, NOW);
    assert_eq!(entries[1].status, 401);
    assert_eq!(entries[1].user_name.as_deref(), Some("demo-admin"));
    assert_eq!(entries[2].method, "POST");
    assert_eq!(entries[2].status, 201);

    let credentials = STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1));
    for secret in [
        ADMIN.1,
        "wrong-key",
        "Basic ",
        credentials.as_str(),
        "BEGIN CERTIFICATE REQUEST",
    ] {
        assert!(
            !reply.text.contains(secret),
            "the log must not contain {secret:?}"
        );
    }
}

#[tokio::test]
async fn request_log_can_be_cleared() {
    let sim = TestSim::start().await;
    sim.get("/application/version").await;

    let cleared = sim.control(Method::DELETE, "/requests").await;
    let after = sim.control(Method::GET, "/requests").await;

    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    assert_eq!(after.body, serde_json::json!([]));
    assert!(sim.sim.request_log().is_empty());
}

#[tokio::test]
async fn ca_endpoint_returns_root_and_intermediate() {
    let sim = TestSim::start().await;

    let reply = sim.control(Method::GET, "/ca").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["root"], sim.sim.root_ca_pem());
    assert_eq!(reply.body["intermediate"], sim.sim.intermediate_ca_pem());
    assert_ne!(reply.body["root"], reply.body["intermediate"]);
}

#[tokio::test]
async fn clock_endpoint_reports_simulator_time() {
    let sim = TestSim::start().await;

    let reply = sim.control(Method::GET, "/clock").await;

    assert_eq!(
        reply.body,
        serde_json::json!({"now": "2026-03-10T15:00:00Z"})
    );
}

#[tokio::test]
async fn approving_unknown_or_active_order_fails() {
    let sim = TestSim::start().await;

    let unknown = sim
        .control(Method::POST, "/certificates/2199999/approve")
        .await;
    let active = sim
        .control(Method::POST, "/certificates/2100000/approve")
        .await;
    let not_a_number = sim.control(Method::POST, "/certificates/abc/approve").await;

    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    let message = assert_error(&active, StatusCode::BAD_REQUEST, None);
    assert!(message.contains("ACTIVE"), "{message}");
    assert_error(&not_a_number, StatusCode::BAD_REQUEST, Some("trackingId"));
}

#[tokio::test]
async fn control_calls_are_not_logged_as_api_requests() {
    let sim = TestSim::start().await;

    sim.control(Method::GET, "/ca").await;

    assert!(sim.sim.request_log().is_empty());
}

#[tokio::test]
async fn base_and_control_urls_share_the_bound_port() {
    let sim = TestSim::start().await;
    let port = sim.sim.local_addr().port();

    assert_eq!(
        sim.sim.base_url(),
        format!("http://127.0.0.1:{port}/enterprise/v2")
    );
    assert_eq!(
        sim.sim.control_url(),
        format!("http://127.0.0.1:{port}/_sim")
    );
}
