//! Per-user rate limiting over 30-second windows of the simulator's clock.

use entrust_sim::Scenario;
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::helpers::{ADMIN, REQUESTER, TestSim, assert_error};

fn limited_scenario(quota: u32) -> Scenario {
    let mut scenario = Scenario::demo();
    scenario.account.rate_limit_quota = Some(quota);
    scenario
}

#[tokio::test]
async fn requests_over_quota_get_429_with_headers() {
    let sim = TestSim::start_with(limited_scenario(3)).await;

    for _ in 0..3 {
        let reply = sim.get("/application/version").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    sim.clock.advance(Duration::seconds(10));
    let limited = sim.get("/certificates").await;

    let message = assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, None);
    assert!(
        message.contains("at most 3 requests per 30 seconds"),
        "{message}"
    );
    assert_eq!(limited.headers["x-rate-limit-limit"], "3");
    assert_eq!(limited.headers["retry-after"], "20");
}

#[tokio::test]
async fn window_resets_after_30_seconds() {
    let sim = TestSim::start_with(limited_scenario(1)).await;
    sim.get("/application/version").await;
    let limited = sim.get("/application/version").await;

    sim.clock.advance(Duration::seconds(30));
    let after = sim.get("/application/version").await;

    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
}

#[tokio::test]
async fn each_user_has_its_own_window() {
    let sim = TestSim::start_with(limited_scenario(1)).await;

    let admin = sim.get_as("/application/version", ADMIN).await;
    let requester = sim.get_as("/application/version", REQUESTER).await;
    let admin_again = sim.get_as("/application/version", ADMIN).await;

    assert_eq!(admin.status, StatusCode::OK);
    assert_eq!(requester.status, StatusCode::OK);
    assert_eq!(admin_again.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn rejected_requests_change_nothing() {
    let sim = TestSim::start_with(limited_scenario(1)).await;
    sim.get("/application/version").await;
    let before = sim.sim.revocation(2_100_000).unwrap();

    let limited = sim
        .post(
            "/certificates/2100000/revocations",
            &json!({"crlReason": "unspecified"}),
        )
        .await;

    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sim.sim.revocation(2_100_000).unwrap(), before);
    sim.clock.advance(Duration::seconds(30));
    assert_eq!(sim.status_of(2_100_000).await, "ACTIVE");
}

#[tokio::test]
async fn quota_changes_at_runtime() {
    let sim = TestSim::start().await;
    for _ in 0..50 {
        assert_eq!(sim.get("/application/version").await.status, StatusCode::OK);
    }

    let set = sim
        .control_json(Method::PUT, "/rate-limit", &json!({"quota": 2}))
        .await;
    let read = sim.control(Method::GET, "/rate-limit").await;
    let statuses = [
        sim.get("/application/version").await.status,
        sim.get("/application/version").await.status,
        sim.get("/application/version").await.status,
    ];
    sim.sim.set_rate_limit(None).unwrap();
    let unlimited = sim.get("/application/version").await;

    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(read.body, json!({"quota": 2}));
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(unlimited.status, StatusCode::OK);
    let zero = sim
        .control_json(Method::PUT, "/rate-limit", &json!({"quota": 0}))
        .await;
    assert_error(&zero, StatusCode::BAD_REQUEST, Some("quota"));
}

#[tokio::test]
async fn unauthenticated_requests_do_not_count() {
    let sim = TestSim::start_with(limited_scenario(1)).await;

    let wrong = sim
        .get_as("/application/version", ("demo-admin", "wrong"))
        .await;
    let first = sim.get("/application/version").await;

    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(first.status, StatusCode::OK);
}
