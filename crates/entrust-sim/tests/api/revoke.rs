//! Revocation, deactivation and tracking updates of existing orders.

use entrust_sim::Scenario;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{NOW, REQUESTER, TestSim, assert_error};

const ACTIVE: i64 = 2_100_000;

fn revocations(tracking_id: i64) -> String {
    format!("/certificates/{tracking_id}/revocations")
}

fn deactivations(tracking_id: i64) -> String {
    format!("/certificates/{tracking_id}/deactivations")
}

#[tokio::test]
async fn revoke_turns_certificate_revoked() {
    let sim = TestSim::start().await;

    let reply = sim
        .post(
            &revocations(ACTIVE),
            &json!({"crlReason": "keyCompromise", "revocationComment": "Key left on a laptop."}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!({}));
    assert_eq!(sim.status_of(ACTIVE).await, "REVOKED");
    let revocation = sim.sim.revocation(ACTIVE).unwrap().expect("revoked");
    assert_eq!(revocation.reason, "keyCompromise");
    assert_eq!(revocation.comment.as_deref(), Some("Key left on a laptop."));
    assert_eq!(revocation.revoked_at, NOW);
}

#[tokio::test]
async fn only_unspecified_and_key_compromise_by_default() {
    let sim = TestSim::start().await;

    for reason in [json!("superseded"), json!("cessationOfOperation"), json!(0)] {
        let reply = sim
            .post(&revocations(ACTIVE), &json!({"crlReason": reason}))
            .await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("crlReason"));
        assert!(
            message.contains("unspecified or keyCompromise"),
            "{message}"
        );
    }
    let missing = sim.post(&revocations(ACTIVE), &json!({})).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, Some("crlReason"));
    assert_eq!(sim.status_of(ACTIVE).await, "ACTIVE");

    let reply = sim
        .post(&revocations(ACTIVE), &json!({"crlReason": "unspecified"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn legacy_toggle_accepts_spec_reasons_and_integer_codes() {
    let mut scenario = Scenario::demo();
    scenario.account.legacy_crl_reasons = true;
    let sim = TestSim::start_with(scenario).await;
    let cases = [
        (2_100_000, json!("superseded"), "superseded"),
        (2_100_001, json!("affiliationChanged"), "affiliationChanged"),
        (2_100_002, json!(5), "cessationOfOperation"),
        (2_100_004, json!(1), "keyCompromise"),
    ];

    for (tracking_id, reason, name) in cases {
        let reply = sim
            .post(&revocations(tracking_id), &json!({"crlReason": reason}))
            .await;

        assert_eq!(reply.status, StatusCode::OK, "{reason}: {}", reply.text);
        let revocation = sim.sim.revocation(tracking_id).unwrap().expect("revoked");
        assert_eq!(revocation.reason, name);
    }
    let unknown_code = sim
        .post(&revocations(2_100_005), &json!({"crlReason": 2}))
        .await;
    assert_error(&unknown_code, StatusCode::BAD_REQUEST, Some("crlReason"));
}

#[tokio::test]
async fn revoke_rejects_pending_declined_revoked_and_expired() {
    let sim = TestSim::start().await;
    let cases = [
        (2_100_014, "PENDING"),
        (2_100_017, "DECLINED"),
        (2_100_009, "REVOKED"),
        (2_100_007, "EXPIRED"),
    ];

    for (tracking_id, status) in cases {
        let reply = sim
            .post(
                &revocations(tracking_id),
                &json!({"crlReason": "unspecified"}),
            )
            .await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
        assert!(message.contains("cannot be revoked"), "{message}");
        assert!(message.contains(status), "{message}");
        assert_eq!(sim.status_of(tracking_id).await, status);
    }
}

#[tokio::test]
async fn suspended_certificate_can_be_revoked() {
    let sim = TestSim::start().await;

    let reply = sim
        .post(
            &revocations(2_100_018),
            &json!({"crlReason": "unspecified"}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(sim.status_of(2_100_018).await, "REVOKED");
}

#[tokio::test]
async fn deactivate_sets_tracking_flags() {
    let sim = TestSim::start().await;

    let reply = sim.post(&deactivations(ACTIVE), &json!({})).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let detail = sim.get(&format!("/certificates/{ACTIVE}")).await.body;
    assert_eq!(detail["status"], "DEACTIVATED");
    assert_eq!(detail["tracking"]["deactivated"], true);
    assert_eq!(detail["tracking"]["deactivatedOn"], "2026-03-10T15:00:00Z");
    assert_eq!(detail["tracking"]["trackingInfo"], "web-frontend");
}

#[tokio::test]
async fn deactivate_needs_active_certificate() {
    let sim = TestSim::start().await;
    let cases = [
        (2_100_014, "PENDING"),
        (2_100_007, "EXPIRED"),
        (2_100_021, "DEACTIVATED"),
        (2_100_018, "SUSPENDED"),
    ];

    for (tracking_id, status) in cases {
        let reply = sim.post(&deactivations(tracking_id), &json!({})).await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
        assert!(message.contains(status), "{message}");
    }
    let unknown = sim.post(&deactivations(2_199_999), &json!({})).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    let malformed = sim
        .post("/certificates/1.5/deactivations", &json!({}))
        .await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, Some("trackingId"));
}

#[tokio::test]
async fn requester_cannot_revoke_or_deactivate() {
    let sim = TestSim::start().await;

    let revoke = sim
        .post_as(
            &revocations(ACTIVE),
            &json!({"crlReason": "unspecified"}),
            REQUESTER,
        )
        .await;
    let deactivate = sim
        .post_as(&deactivations(ACTIVE), &json!({}), REQUESTER)
        .await;

    let message = assert_error(&revoke, StatusCode::FORBIDDEN, None);
    assert!(message.contains("revoke"), "{message}");
    let message = assert_error(&deactivate, StatusCode::FORBIDDEN, None);
    assert!(message.contains("deactivate"), "{message}");
    assert_eq!(sim.status_of(ACTIVE).await, "ACTIVE");
}

#[tokio::test]
async fn tracking_update_replaces_all_tracking_data() {
    let sim = TestSim::start().await;
    let path = format!("/certificates/{ACTIVE}/tracking");
    let tracking = json!({
        "trackingInfo": "moved-to-cdn",
        "requesterEmail": "ops@example.com",
        "customFields": {"text1": "cost-centre-42"}
    });

    let reply = sim
        .send_as(Method::PUT, &path, Some(&tracking), REQUESTER)
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let detail = sim.get(&format!("/certificates/{ACTIVE}")).await.body;
    assert_eq!(
        detail["tracking"],
        json!({
            "trackingInfo": "moved-to-cdn",
            "requesterEmail": "ops@example.com",
            "customFields": {"text1": "cost-centre-42"},
            "deactivated": false
        })
    );

    let erased = sim.put(&path, &json!({})).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    let detail = sim.get(&format!("/certificates/{ACTIVE}")).await.body;
    assert_eq!(detail["tracking"], json!({"deactivated": false}));
}

#[tokio::test]
async fn tracking_update_checks_fields_and_ids() {
    let sim = TestSim::start().await;

    let too_long = sim
        .put(
            &format!("/certificates/{ACTIVE}/tracking"),
            &json!({"trackingInfo": "x".repeat(129)}),
        )
        .await;
    let unknown = sim.put("/certificates/2199999/tracking", &json!({})).await;

    assert_error(&too_long, StatusCode::BAD_REQUEST, Some("trackingInfo"));
    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    let detail = sim.get(&format!("/certificates/{ACTIVE}")).await.body;
    assert_eq!(detail["tracking"]["trackingInfo"], "web-frontend");
}
