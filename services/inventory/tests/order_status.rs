//! Certificates following their order's state, against a started inventory on the real
//! Postgres and NATS: the `order_status` of CertificateIssued, and OrderStatusChanged events
//! for orders whose certificates are stored.

mod support;

use certitude_platform::events::timestamp;
use certitude_proto::events::v1::{CertificateIssued, OrderStatusChanged};
use certitude_proto::inventory::v1::GetCertificateRequest;
use support::ca::TestCa;
use support::{Inventory, STATUS_DURABLE, status_changed_envelope};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// Validity that contains the test clock's [`support::NOW`].
const CURRENT: (OffsetDateTime, OffsetDateTime) = (
    datetime!(2030-05-01 00:00:00 UTC),
    datetime!(2031-05-01 00:00:00 UTC),
);
/// Validity that ended before [`support::NOW`].
const PAST: (OffsetDateTime, OffsetDateTime) = (
    datetime!(2029-01-01 00:00:00 UTC),
    datetime!(2030-01-01 00:00:00 UTC),
);

/// Builds a CertificateIssued event for a fresh certificate of `order_id`, as order-manager
/// publishes it for an imported order in `order_status`.
fn issued_event(
    ca: &TestCa,
    serial: u8,
    order_id: &str,
    order_status: &str,
    validity: (OffsetDateTime, OffsetDateTime),
) -> CertificateIssued {
    let (not_before, not_after) = validity;
    let certificate_pem =
        ca.issue_with_fresh_key("shop.example.com", &[serial], not_before, not_after);
    CertificateIssued {
        order_id: order_id.to_owned(),
        credential_id: Uuid::now_v7().to_string(),
        tracking_id: 2_100_000 + i64::from(serial),
        certificate_pem,
        chain_pem: vec![ca.pem()],
        serial_number: format!("{serial:X}"),
        not_after: Some(timestamp(not_after)),
        key_id: String::new(),
        replaces_certificate_id: String::new(),
        certificate_id: Uuid::now_v7().to_string(),
        order_status: order_status.to_owned(),
        replacement: String::new(),
    }
}

fn status_change(order_id: &str, previous: &str, status: &str) -> OrderStatusChanged {
    OrderStatusChanged {
        order_id: order_id.to_owned(),
        tracking_id: 2_100_000,
        previous_status: previous.to_owned(),
        status: status.to_owned(),
        entrust_status: status.to_owned(),
        credential_id: Uuid::now_v7().to_string(),
        error: String::new(),
    }
}

async fn stored_status(inventory: &Inventory, certificate_id: &str) -> String {
    inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            id: certificate_id.to_owned(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect("GetCertificate finds the certificate")
        .into_inner()
        .status
}

/// Stores the certificate of `event` and waits until the consumer is done with it.
async fn store(inventory: &Inventory, event: &CertificateIssued) {
    let (_, sequence) = inventory.publish_issued(event).await;
    inventory.wait_until_consumed(sequence).await;
}

/// Publishes a status change with the order's envelope `sequence` and waits until the
/// consumer is done with it.
async fn change(inventory: &Inventory, changed: &OrderStatusChanged, sequence: u64) {
    let (_, stream_sequence) = inventory.publish_status_changed(changed, sequence).await;
    inventory
        .wait_until_consumed_by(STATUS_DURABLE, stream_sequence)
        .await;
}

#[tokio::test]
async fn order_status_of_event_sets_stored_status() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    // Each case is (order_status, validity, expected status). Producers older than the field
    // send an empty order_status.
    let cases = [
        ("REVOKED", CURRENT, "revoked"),
        ("SUSPENDED", CURRENT, "suspended"),
        ("ISSUED", CURRENT, "active"),
        ("", CURRENT, "active"),
        ("", PAST, "expired"),
        ("EXPIRED", PAST, "expired"),
        ("REVOKED", PAST, "revoked"),
    ];
    let events: Vec<CertificateIssued> = cases
        .iter()
        .zip(1u8..)
        .map(|((order_status, validity, _), serial)| {
            issued_event(
                &ca,
                serial,
                &Uuid::now_v7().to_string(),
                order_status,
                *validity,
            )
        })
        .collect();

    let mut last = 0;
    for event in &events {
        (_, last) = inventory.publish_issued(event).await;
    }
    inventory.wait_until_consumed(last).await;

    for ((order_status, _, expected), event) in cases.iter().zip(&events) {
        assert_eq!(
            stored_status(&inventory, &event.certificate_id).await,
            *expected,
            "certificate of an order in state {order_status:?}"
        );
    }
    inventory.stop().await;
}

#[tokio::test]
async fn revocation_updates_the_order_certificates_only() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let revoked_order = Uuid::now_v7().to_string();
    let other_order = Uuid::now_v7().to_string();
    let revoked = issued_event(&ca, 1, &revoked_order, "ISSUED", CURRENT);
    let untouched = issued_event(&ca, 2, &other_order, "ISSUED", CURRENT);
    store(&inventory, &revoked).await;
    store(&inventory, &untouched).await;
    assert_eq!(
        stored_status(&inventory, &revoked.certificate_id).await,
        "active"
    );

    change(
        &inventory,
        &status_change(&revoked_order, "ISSUED", "REVOKED"),
        2,
    )
    .await;

    assert_eq!(
        stored_status(&inventory, &revoked.certificate_id).await,
        "revoked"
    );
    assert_eq!(
        stored_status(&inventory, &untouched.certificate_id).await,
        "active"
    );
    inventory.stop().await;
}

#[tokio::test]
async fn suspension_and_resumption_follow_the_order() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let order_id = Uuid::now_v7().to_string();
    let current = issued_event(&ca, 1, &order_id, "ISSUED", CURRENT);
    store(&inventory, &current).await;

    change(
        &inventory,
        &status_change(&order_id, "ISSUED", "SUSPENDED"),
        2,
    )
    .await;
    let suspended = stored_status(&inventory, &current.certificate_id).await;
    change(
        &inventory,
        &status_change(&order_id, "SUSPENDED", "ISSUED"),
        3,
    )
    .await;
    let resumed = stored_status(&inventory, &current.certificate_id).await;

    assert_eq!(suspended, "suspended");
    assert_eq!(resumed, "active");
    inventory.stop().await;
}

#[tokio::test]
async fn older_status_change_is_ignored() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let order_id = Uuid::now_v7().to_string();
    let current = issued_event(&ca, 1, &order_id, "ISSUED", CURRENT);
    store(&inventory, &current).await;

    // The suspension (sequence 2) arrives after the revocation that followed it (sequence 3).
    change(
        &inventory,
        &status_change(&order_id, "SUSPENDED", "REVOKED"),
        3,
    )
    .await;
    change(
        &inventory,
        &status_change(&order_id, "ISSUED", "SUSPENDED"),
        2,
    )
    .await;

    assert_eq!(
        stored_status(&inventory, &current.certificate_id).await,
        "revoked"
    );
    inventory.stop().await;
}

#[tokio::test]
async fn status_change_before_certificate_applies_to_it() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let order_id = Uuid::now_v7().to_string();

    // The revocation is consumed before the certificate issued while the order was ISSUED.
    change(
        &inventory,
        &status_change(&order_id, "ISSUED", "REVOKED"),
        3,
    )
    .await;
    let late = issued_event(&ca, 1, &order_id, "ISSUED", CURRENT);
    store(&inventory, &late).await;

    assert_eq!(
        stored_status(&inventory, &late.certificate_id).await,
        "revoked"
    );
    inventory.stop().await;
}

#[tokio::test]
async fn state_without_certificate_meaning_keeps_status() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let order_id = Uuid::now_v7().to_string();
    let current = issued_event(&ca, 1, &order_id, "SUSPENDED", CURRENT);
    store(&inventory, &current).await;

    change(
        &inventory,
        &status_change(&order_id, "SUSPENDED", "UNKNOWN"),
        2,
    )
    .await;

    assert_eq!(
        stored_status(&inventory, &current.certificate_id).await,
        "suspended"
    );
    inventory.stop().await;
}

#[tokio::test]
async fn redelivered_status_change_is_processed_once() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let order_id = Uuid::now_v7().to_string();
    let current = issued_event(&ca, 1, &order_id, "ISSUED", CURRENT);
    store(&inventory, &current).await;
    let changed = status_change(&order_id, "ISSUED", "REVOKED");

    // The same event is published twice without a Nats-Msg-Id, so JetStream keeps both copies
    // and the inbox must drop the second.
    let (event_id, _) = inventory.publish_status_changed(&changed, 2).await;
    let last = inventory
        .publish_on(
            inventory.subject::<OrderStatusChanged>(),
            &status_changed_envelope(event_id, &changed, 2),
            None,
        )
        .await;
    inventory.wait_until_consumed_by(STATUS_DURABLE, last).await;

    let processed: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE consumer = $1")
        .bind(STATUS_DURABLE)
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the inbox is readable");
    assert_eq!(processed, 1);
    assert_eq!(
        stored_status(&inventory, &current.certificate_id).await,
        "revoked"
    );
    inventory.stop().await;
}
