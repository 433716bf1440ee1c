//! Injected faults: latency, 429s, 5xx, dropped connections and commit-then-fail orders.

use std::time::{Duration, Instant};

use entrust_sim::{CommitFailure, Fault, FaultKind, Scenario};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestSim, assert_error, ec_csr};

async fn arm(sim: &TestSim, fault: Value) -> i64 {
    let reply = sim.control_json(Method::POST, "/faults", &fault).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_i64().unwrap()
}

fn marked_order(marker: &str) -> Value {
    let (csr, _) = ec_csr("retry.example.com", &[]);
    json!({
        "certType": "STANDARD_SSL",
        "csr": csr,
        "certLifetime": "P1Y",
        "tracking": {"trackingInfo": marker}
    })
}

async fn orders_with_marker(sim: &TestSim, marker: &str) -> Vec<Value> {
    let reply = sim
        .get(&format!(
            "/certificates?tracking.trackingInfo={marker}&fields=*"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["certificates"].as_array().unwrap().clone()
}

#[tokio::test]
async fn latency_fault_delays_then_disarms() {
    let sim = TestSim::start().await;
    arm(&sim, json!({"kind": "latency", "delayMs": 50, "count": 1})).await;

    let slow = sim.get("/application/version").await;
    let normal = sim.get("/application/version").await;

    assert_eq!(slow.status, StatusCode::OK);
    assert_eq!(normal.status, StatusCode::OK);
    let log = sim.sim.request_log();
    assert_eq!(log[0].fault.as_deref(), Some("latency"));
    assert_eq!(log[1].fault, None);
    assert!(sim.sim.armed_faults().is_empty());
}

#[tokio::test]
async fn rate_limit_fault_answers_429_then_recovers() {
    let sim = TestSim::start().await;
    arm(
        &sim,
        json!({"kind": "rateLimit", "retryAfterSeconds": 7, "count": 2}),
    )
    .await;

    let first = sim.get("/certificates").await;
    let second = sim.get("/certificates").await;
    let third = sim.get("/certificates").await;

    for limited in [&first, &second] {
        assert_error(limited, StatusCode::TOO_MANY_REQUESTS, None);
        assert_eq!(limited.headers["retry-after"], "7");
        assert_eq!(limited.headers["x-rate-limit-limit"], "100");
    }
    assert_eq!(third.status, StatusCode::OK);
}

#[tokio::test]
async fn server_error_faults_use_error_response_bodies() {
    let sim = TestSim::start().await;

    for status in [500u16, 502, 503, 504] {
        arm(
            &sim,
            json!({"kind": "serverError", "status": status, "count": 1}),
        )
        .await;

        let reply = sim.get("/clients").await;

        let message = assert_error(&reply, StatusCode::from_u16(status).unwrap(), None);
        assert!(message.contains(&status.to_string()), "{message}");
    }
    assert_eq!(sim.get("/clients").await.status, StatusCode::OK);
    let bad = sim
        .control_json(
            Method::POST,
            "/faults",
            &json!({"kind": "serverError", "status": 404}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, None);
}

#[tokio::test]
async fn dropped_connection_gets_no_response() {
    let sim = TestSim::start().await;
    arm(&sim, json!({"kind": "dropConnection", "count": 1})).await;

    let dropped = sim
        .http
        .get(sim.url("/application/version"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await;
    let next = sim.get("/application/version").await;

    let error = dropped.expect_err("the connection closes without a response");
    assert!(!error.is_status(), "{error}");
    assert_eq!(next.status, StatusCode::OK);
    let log = sim.sim.request_log();
    assert_eq!(log[0].status, 0);
    assert_eq!(log[0].fault.as_deref(), Some("dropConnection"));
}

#[tokio::test]
async fn method_and_path_filters_choose_requests() {
    let sim = TestSim::start().await;
    arm(
        &sim,
        json!({"kind": "serverError", "status": 502, "method": "POST",
               "pathPrefix": "/certificates"}),
    )
    .await;

    let list = sim.get("/certificates").await;
    let order = sim
        .post("/certificates", &marked_order("filtered-fault"))
        .await;

    assert_eq!(list.status, StatusCode::OK);
    assert_error(&order, StatusCode::BAD_GATEWAY, None);
    assert!(orders_with_marker(&sim, "filtered-fault").await.is_empty());
}

#[tokio::test]
async fn commit_then_fail_leaves_exactly_one_order() {
    let sim = TestSim::start().await;
    let before = sim.inventory("STANDARD_SSL").await;
    arm(
        &sim,
        json!({"kind": "commitThenFail", "outcome": "serverError", "count": 1}),
    )
    .await;

    let failed = sim.post("/certificates", &marked_order("order-7f3a")).await;

    assert_error(&failed, StatusCode::INTERNAL_SERVER_ERROR, None);
    let orders = orders_with_marker(&sim, "order-7f3a").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["status"], "ACTIVE");
    let after = sim.inventory("STANDARD_SSL").await;
    assert_eq!(
        after["remainingCount"].as_i64().unwrap(),
        before["remainingCount"].as_i64().unwrap() - 1
    );
    let retried = sim.post("/certificates", &marked_order("order-7f3b")).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
    let posts: Vec<_> = sim
        .sim
        .request_log()
        .into_iter()
        .filter(|entry| entry.method == "POST")
        .collect();
    assert_eq!(posts[0].status, 500);
    assert_eq!(posts[0].fault.as_deref(), Some("commitThenFail"));
    assert_eq!(posts[1].status, 201);
    assert_eq!(posts[1].fault, None);
}

#[tokio::test]
async fn commit_then_drop_leaves_exactly_one_order() {
    let sim = TestSim::start().await;
    sim.sim
        .inject_fault(Fault {
            kind: FaultKind::CommitThenFail {
                outcome: CommitFailure::DropConnection,
            },
            count: Some(1),
            method: None,
            path_prefix: None,
        })
        .unwrap();

    let dropped = sim
        .http
        .post(sim.url("/certificates"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&marked_order("order-dropped"))
        .send()
        .await;

    assert!(dropped.is_err(), "the client sees no response");
    let orders = orders_with_marker(&sim, "order-dropped").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["status"], "ACTIVE");
}

#[tokio::test]
async fn abandoned_held_order_is_logged() {
    let sim = TestSim::start().await;
    arm(
        &sim,
        json!({"kind": "latency", "delayMs": 30_000, "count": 1, "method": "POST"}),
    )
    .await;

    let abandoned = sim
        .http
        .post(sim.url("/certificates"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&marked_order("order-abandoned"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;

    assert!(
        abandoned.is_err(),
        "the client gives up before the response"
    );
    let orders = orders_with_marker(&sim, "order-abandoned").await;
    assert_eq!(orders.len(), 1);
    // The server drops the held request once it notices the closed connection.
    let deadline = Instant::now() + Duration::from_secs(20);
    let posts = loop {
        let posts: Vec<_> = sim
            .sim
            .request_log()
            .into_iter()
            .filter(|entry| entry.method == "POST")
            .collect();
        if !posts.is_empty() {
            break posts;
        }
        assert!(
            Instant::now() < deadline,
            "the held request was never logged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, 0);
    assert_eq!(posts[0].fault.as_deref(), Some("latency"));
}

#[tokio::test]
async fn commit_then_fail_waits_for_a_successful_order() {
    let sim = TestSim::start().await;
    arm(
        &sim,
        json!({"kind": "commitThenFail", "outcome": "serverError", "count": 1}),
    )
    .await;

    let invalid = sim
        .post("/certificates", &json!({"certType": "STANDARD_SSL"}))
        .await;
    let listed = sim.get("/certificates").await;
    let committed = sim.post("/certificates", &marked_order("order-late")).await;

    assert_error(&invalid, StatusCode::BAD_REQUEST, Some("csr"));
    assert_eq!(listed.status, StatusCode::OK);
    assert_error(&committed, StatusCode::INTERNAL_SERVER_ERROR, None);
    assert_eq!(orders_with_marker(&sim, "order-late").await.len(), 1);
}

#[tokio::test]
async fn uncounted_fault_lasts_until_cleared() {
    let sim = TestSim::start().await;
    let id = arm(&sim, json!({"kind": "serverError", "status": 503})).await;

    let statuses = [
        sim.get("/clients").await.status,
        sim.get("/inventories").await.status,
    ];
    let listed = sim.control(Method::GET, "/faults").await;
    let disarmed = sim.control(Method::DELETE, &format!("/faults/{id}")).await;
    let again = sim.control(Method::DELETE, &format!("/faults/{id}")).await;
    let after = sim.get("/clients").await;

    assert_eq!(statuses, [StatusCode::SERVICE_UNAVAILABLE; 2]);
    assert_eq!(
        listed.body,
        json!([{"id": id, "kind": "serverError", "status": 503}])
    );
    assert_eq!(disarmed.status, StatusCode::NO_CONTENT);
    assert_error(&again, StatusCode::NOT_FOUND, None);
    assert_eq!(after.status, StatusCode::OK);
}

#[tokio::test]
async fn clearing_faults_disarms_all() {
    let sim = TestSim::start().await;
    arm(&sim, json!({"kind": "dropConnection"})).await;
    arm(&sim, json!({"kind": "latency", "delayMs": 1})).await;

    let cleared = sim.control(Method::DELETE, "/faults").await;
    let reply = sim.get("/application/version").await;

    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.status, StatusCode::OK);
    assert!(sim.sim.armed_faults().is_empty());
}

#[tokio::test]
async fn injected_rate_limit_reports_configured_quota() {
    let mut scenario = Scenario::demo();
    scenario.account.rate_limit_quota = Some(40);
    let sim = TestSim::start_with(scenario).await;
    arm(
        &sim,
        json!({"kind": "rateLimit", "retryAfterSeconds": 1, "count": 1}),
    )
    .await;

    let reply = sim.get("/clients").await;

    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["x-rate-limit-limit"], "40");
}

#[tokio::test]
async fn invalid_fault_is_rejected_by_the_library_api() {
    let sim = TestSim::start().await;

    let error = sim
        .sim
        .inject_fault(Fault {
            kind: FaultKind::ServerError { status: 200 },
            count: None,
            method: None,
            path_prefix: None,
        })
        .unwrap_err();

    assert!(error.to_string().contains("500 to 599"), "{error}");
}
