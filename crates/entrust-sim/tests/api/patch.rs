//! `PATCH /certificates/{trackingId}`: APPROVE, DECLINE, SUSPEND and UNSUSPEND, the statuses
//! each needs, and the inventory a decline gives back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, REQUESTER, TestSim, assert_error, ec_csr, keys};

const PENDING: i64 = 2_100_014;
const ACTIVE: i64 = 2_100_000;
const SUSPENDED: i64 = 2_100_018;
const DECLINED: i64 = 2_100_017;
const EXPIRED: i64 = 2_100_007;

fn op(operation: &str) -> Value {
    json!({ "operation": operation })
}

#[tokio::test]
async fn approve_issues_certificate_with_201() {
    let sim = TestSim::start().await;

    let reply = sim
        .patch(&format!("/certificates/{PENDING}"), &op("APPROVE"))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        keys(&reply.body),
        vec![
            "chainCerts",
            "endEntityCert",
            "expiresAfter",
            "serialNumber",
            "trackingId"
        ]
    );
    assert_eq!(reply.body["trackingId"], PENDING);
    let detail = sim.get(&format!("/certificates/{PENDING}")).await;
    assert_eq!(detail.body["status"], "ACTIVE");
    assert_eq!(detail.body["endEntityCert"], reply.body["endEntityCert"]);
    assert_eq!(detail.body["serialNumber"], reply.body["serialNumber"]);
    assert_eq!(detail.body["issueDateTime"], "2026-03-10T15:00:00Z");
}

#[tokio::test]
async fn approve_of_active_order_is_400_naming_status() {
    let sim = TestSim::start().await;

    let reply = sim
        .patch(&format!("/certificates/{ACTIVE}"), &op("APPROVE"))
        .await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
    assert!(message.contains("ACTIVE"), "{message}");
    assert!(message.contains("PENDING"), "{message}");
    assert_eq!(sim.status_of(ACTIVE).await, "ACTIVE");
}

#[tokio::test]
async fn decline_stores_and_shows_reason() {
    let sim = TestSim::start().await;

    let reply = sim
        .patch(
            &format!("/certificates/{PENDING}"),
            &json!({"operation": "DECLINE", "declineReason": "Not our domain."}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!({}));
    let detail = sim.get(&format!("/certificates/{PENDING}")).await;
    assert_eq!(detail.body["status"], "DECLINED");
    assert_eq!(detail.body["declineReason"], "Not our domain.");
    assert!(detail.body.get("endEntityCert").is_none());
}

#[tokio::test]
async fn decline_reason_over_254_characters_is_400() {
    let sim = TestSim::start().await;
    let body = json!({"operation": "DECLINE", "declineReason": "x".repeat(255)});

    let reply = sim.patch(&format!("/certificates/{PENDING}"), &body).await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("declineReason"));
    assert!(message.contains("254"), "{message}");
    assert_eq!(sim.status_of(PENDING).await, "PENDING");
}

#[tokio::test]
async fn decline_gives_back_queued_inventory() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("queue.example.com", &[]);
    let before = sim.inventory("STANDARD_SSL").await;
    let queued = sim
        .post(
            "/certificates",
            &json!({"certType": "STANDARD_SSL", "csr": csr, "queueForApproval": true}),
        )
        .await;
    let tracking_id = queued.body["trackingId"].as_i64().unwrap();
    let while_queued = sim.inventory("STANDARD_SSL").await;

    let reply = sim
        .patch(&format!("/certificates/{tracking_id}"), &op("DECLINE"))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        while_queued["remainingCount"],
        before["remainingCount"].as_i64().unwrap() - 1
    );
    assert_eq!(sim.inventory("STANDARD_SSL").await, before);
    assert_eq!(sim.status_of(tracking_id).await, "DECLINED");
}

#[tokio::test]
async fn suspend_and_unsuspend_round_trip() {
    let sim = TestSim::start().await;
    let path = format!("/certificates/{ACTIVE}");

    let suspended = sim.patch(&path, &op("SUSPEND")).await;
    let status_suspended = sim.status_of(ACTIVE).await;
    let unsuspended = sim.patch(&path, &op("UNSUSPEND")).await;

    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text);
    assert_eq!(status_suspended, "SUSPENDED");
    assert_eq!(unsuspended.status, StatusCode::OK, "{}", unsuspended.text);
    assert_eq!(sim.status_of(ACTIVE).await, "ACTIVE");
}

#[tokio::test]
async fn invalid_transitions_are_400_naming_the_status() {
    let sim = TestSim::start().await;
    let cases = [
        (SUSPENDED, "SUSPEND", "SUSPENDED"),
        (ACTIVE, "UNSUSPEND", "ACTIVE"),
        (DECLINED, "DECLINE", "DECLINED"),
        (PENDING, "SUSPEND", "PENDING"),
        (EXPIRED, "SUSPEND", "EXPIRED"),
        (DECLINED, "APPROVE", "DECLINED"),
    ];

    for (tracking_id, operation, status) in cases {
        let reply = sim
            .patch(&format!("/certificates/{tracking_id}"), &op(operation))
            .await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
        assert!(
            message.contains(status),
            "{operation} on {status}: {message}"
        );
        assert_eq!(sim.status_of(tracking_id).await, status);
    }
}

#[tokio::test]
async fn unknown_operation_and_ids_are_rejected() {
    let sim = TestSim::start().await;

    let unknown_op = sim
        .patch(&format!("/certificates/{ACTIVE}"), &op("REVOKE"))
        .await;
    let missing_op = sim
        .patch(&format!("/certificates/{ACTIVE}"), &json!({}))
        .await;
    let unknown_id = sim.patch("/certificates/2199999", &op("SUSPEND")).await;
    let not_a_number = sim.patch("/certificates/abc", &op("SUSPEND")).await;

    assert_error(&unknown_op, StatusCode::BAD_REQUEST, Some("operation"));
    assert_error(&missing_op, StatusCode::BAD_REQUEST, Some("operation"));
    assert_error(&unknown_id, StatusCode::NOT_FOUND, None);
    assert_error(&not_a_number, StatusCode::BAD_REQUEST, Some("trackingId"));
}

#[tokio::test]
async fn requester_gets_403_for_every_operation() {
    let sim = TestSim::start().await;
    let cases = [
        (PENDING, "APPROVE"),
        (PENDING, "DECLINE"),
        (ACTIVE, "SUSPEND"),
        (SUSPENDED, "UNSUSPEND"),
    ];

    for (tracking_id, operation) in cases {
        let before = sim.status_of(tracking_id).await;
        let reply = sim
            .send_as(
                reqwest::Method::PATCH,
                &format!("/certificates/{tracking_id}"),
                Some(&op(operation)),
                REQUESTER,
            )
            .await;

        let message = assert_error(&reply, StatusCode::FORBIDDEN, None);
        assert!(message.contains("demo-requester"), "{message}");
        assert_eq!(sim.status_of(tracking_id).await, before, "{operation}");
    }
}

#[tokio::test]
async fn self_approval_is_403_when_forbidden() {
    let mut scenario = entrust_sim::Scenario::demo();
    scenario.account.forbid_self_approval = true;
    scenario.orders[14].creator_name = Some(ADMIN.0.to_owned());
    let sim = TestSim::start_with(scenario).await;

    let own = sim
        .patch(&format!("/certificates/{PENDING}"), &op("APPROVE"))
        .await;
    let other = sim.patch("/certificates/2100015", &op("APPROVE")).await;

    let message = assert_error(&own, StatusCode::FORBIDDEN, None);
    assert!(message.contains("another administrator"), "{message}");
    assert_eq!(sim.status_of(PENDING).await, "PENDING");
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
}
