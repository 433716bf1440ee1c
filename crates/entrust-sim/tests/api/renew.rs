//! `POST /certificates/{trackingId}/renewals`: the 30-day rule, the statuses that may renew,
//! the new expiry, the inventory a renewal consumes, and the original turned RENEWED.

use entrust_sim::Scenario;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DEMO_ORDERS, FIRST_ID, REQUESTER, TestSim, assert_error, ec_csr};
use crate::reissue::public_key_of;

/// Issued 100 days before the test clock.
const OLD: i64 = 2_100_000;
/// Issued 10 days before the test clock.
const RECENT: i64 = 2_100_003;
/// Expired 35 days before the test clock.
const EXPIRED: i64 = 2_100_007;
/// A UC_SSL order (unlimited inventory), issued 5 days before the test clock.
const UNLIMITED: i64 = 2_100_019;
const NEXT_ID: i64 = FIRST_ID + DEMO_ORDERS;

fn renewals(tracking_id: i64) -> String {
    format!("/certificates/{tracking_id}/renewals")
}

fn remaining(item: &Value) -> i64 {
    item["remainingCount"].as_i64().unwrap()
}

#[tokio::test]
async fn renewal_gets_new_id_and_consumes_inventory() {
    let sim = TestSim::start().await;
    let original = sim.get(&format!("/certificates/{OLD}")).await.body;
    let before = sim.inventory("STANDARD_SSL").await;

    let reply = sim
        .post(&renewals(OLD), &json!({"certLifetime": "P1Y"}))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["trackingId"], NEXT_ID);
    assert_eq!(reply.body["expiresAfter"], "2027-03-10T23:59:59Z");
    assert_ne!(reply.body["serialNumber"], original["serialNumber"]);
    assert_eq!(
        public_key_of(reply.body["endEntityCert"].as_str().unwrap()),
        public_key_of(original["endEntityCert"].as_str().unwrap()),
        "no CSR reuses the key"
    );
    assert_eq!(sim.status_of(OLD).await, "RENEWED");
    assert_eq!(sim.status_of(NEXT_ID).await, "ACTIVE");
    let after = sim.inventory("STANDARD_SSL").await;
    assert_eq!(remaining(&after), remaining(&before) - 1);
    assert_eq!(
        after["usedCount"].as_i64().unwrap(),
        before["usedCount"].as_i64().unwrap() + 1
    );
    assert!(sim.sim.revocation(OLD).unwrap().is_none(), "not revoked");
}

#[tokio::test]
async fn renewal_within_30_days_of_issue_is_400() {
    let sim = TestSim::start().await;
    let before = sim.get("/inventories").await.body;

    let reply = sim.post(&renewals(RECENT), &json!({})).await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
    assert!(message.contains("less than 30 days ago"), "{message}");
    assert!(message.contains("2026-03-30T15:00:00Z"), "{message}");
    assert_eq!(sim.status_of(RECENT).await, "ACTIVE");
    assert_eq!(sim.get("/inventories").await.body, before);
}

#[tokio::test]
async fn renewal_is_allowed_30_days_after_issue() {
    let sim = TestSim::start().await;
    sim.clock.advance(time::Duration::days(20));

    let reply = sim.post(&renewals(RECENT), &json!({})).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(sim.status_of(RECENT).await, "RENEWED");
}

#[tokio::test]
async fn renewal_with_validate_only_is_400() {
    let sim = TestSim::start().await;

    for flag in [json!(true), json!(false), json!("true")] {
        let reply = sim
            .post(&renewals(OLD), &json!({"validateOnly": flag}))
            .await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("validateOnly"));
        assert!(message.contains("renewals"), "{message}");
    }
    assert_eq!(sim.status_of(OLD).await, "ACTIVE");
}

#[tokio::test]
async fn expired_certificate_can_be_renewed() {
    let sim = TestSim::start().await;

    let reply = sim
        .post(&renewals(EXPIRED), &json!({"certExpiryDate": "2026-12-31"}))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["expiresAfter"], "2026-12-31T23:59:59Z");
    assert_eq!(sim.status_of(EXPIRED).await, "RENEWED");
}

#[tokio::test]
async fn renewal_needs_active_ready_or_expired_order() {
    let sim = TestSim::start().await;
    let cases = [
        (2_100_014, "PENDING"),
        (2_100_009, "REVOKED"),
        (2_100_017, "DECLINED"),
        (2_100_021, "DEACTIVATED"),
    ];

    for (tracking_id, status) in cases {
        let reply = sim.post(&renewals(tracking_id), &json!({})).await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
        assert!(message.contains(status), "{message}");
    }
    let unknown = sim.post(&renewals(2_199_999), &json!({})).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn renewal_with_csr_uses_its_key() {
    let sim = TestSim::start().await;
    let (csr, key) = ec_csr("www.example.com", &["www.example.com", "example.com"]);

    let reply = sim.post(&renewals(OLD), &json!({"csr": csr})).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        public_key_of(reply.body["endEntityCert"].as_str().unwrap()),
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
}

#[tokio::test]
async fn renewal_draws_from_flex_when_product_is_exhausted() {
    let mut scenario = Scenario::demo();
    let standard = &mut scenario.inventory[0];
    assert_eq!(standard.product_type, "STANDARD_SSL");
    standard.used_count += standard.remaining_count;
    standard.remaining_count = 0;
    let sim = TestSim::start_with(scenario).await;
    let flex_before = sim.inventory("FLEX").await;

    let reply = sim.post(&renewals(OLD), &json!({})).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        remaining(&sim.inventory("FLEX").await),
        remaining(&flex_before) - 1
    );
    assert_eq!(remaining(&sim.inventory("STANDARD_SSL").await), 0);
}

#[tokio::test]
async fn renewal_with_no_inventory_left_is_400() {
    let mut scenario = Scenario::demo();
    for item in &mut scenario.inventory {
        if item.product_type == "STANDARD_SSL" || item.product_type == "FLEX" {
            item.used_count += item.remaining_count;
            item.remaining_count = 0;
        }
    }
    let sim = TestSim::start_with(scenario).await;

    let reply = sim.post(&renewals(OLD), &json!({})).await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("certType"));
    assert!(message.contains("STANDARD_SSL"), "{message}");
    assert_eq!(sim.status_of(OLD).await, "ACTIVE");
    let next = sim.get(&format!("/certificates/{NEXT_ID}")).await;
    assert_error(&next, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn renewal_of_unlimited_product_keeps_counts_absent() {
    let mut scenario = Scenario::demo();
    scenario.orders[19].issued_days_ago = Some(60);
    let sim = TestSim::start_with(scenario).await;

    let reply = sim.post(&renewals(UNLIMITED), &json!({})).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        sim.inventory("UC_SSL").await,
        json!({"productType": "UC_SSL", "consumptionType": "UNLIMITED"})
    );
}

#[tokio::test]
async fn requester_cannot_renew() {
    let sim = TestSim::start().await;

    let reply = sim.post_as(&renewals(OLD), &json!({}), REQUESTER).await;

    assert_error(&reply, StatusCode::FORBIDDEN, None);
    assert_eq!(sim.status_of(OLD).await, "ACTIVE");
}
