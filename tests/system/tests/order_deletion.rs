//! Deleting an order through the gateway removes it from Certitude only: its certificate stays
//! in the inventory under the same id, and Entrust receives no request for it.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use certitude_platform::events::{Event, decode_envelope, decode_payload};
use certitude_proto::events::v1::OrderDeleted;
use certitude_system_tests::System;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Returns the ids of the items of every page of the list route `path`.
async fn listed_ids(system: &System, path: &str) -> Vec<String> {
    let items = system.api().all_pages(path).await.unwrap();
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until order-manager published OrderDeleted for `order_id`.
async fn wait_for_order_deleted(system: &System, order_id: &str) {
    let stream = system
        .nats
        .jetstream
        .get_stream(&system.nats.settings.stream)
        .await
        .unwrap();
    let subject = OrderDeleted::TYPE.subject(&system.nats.settings.subject_prefix);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(message) = stream.get_last_raw_message_by_subject(&subject).await {
            let envelope = decode_envelope(&message.payload).unwrap();
            let deleted: OrderDeleted = decode_payload(&envelope).unwrap();
            if deleted.order_id == order_id {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "OrderDeleted for order {order_id} was not published within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleted_order_keeps_its_certificate() {
    let system = System::start().await.unwrap();
    let api = system.api();
    let credential_id = system.add_synced_demo_credential(false).await.unwrap();

    let (status, order) = api
        .call(
            Method::POST,
            "/v1/orders",
            Some(json!({
                "credential_id": credential_id,
                "product": "STANDARD_SSL",
                "common_name": "www.example.com",
            })),
            Some("order-to-delete"),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let order_path = format!("/v1/orders/{order_id}");
    let order = api
        .wait_for(&order_path, WAIT, |order| {
            order["inventory_state"] == "in_inventory"
        })
        .await
        .unwrap();
    assert_eq!(order["status"], "ISSUED", "{order}");
    let certificate_id = order["certificate_id"].as_str().unwrap().to_owned();
    let tracking_id = order["tracking_id"].as_i64().unwrap();
    let certificate_path = format!("/v1/certificates/{certificate_id}");
    let certificate = api.get(&certificate_path).await.unwrap();
    assert_eq!(certificate["id"], json!(certificate_id));

    // Delete as the admin; the response is the order as it was.
    let requests_before = system.sim.request_log();
    let (status, deleted) = api
        .call(Method::DELETE, &order_path, None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["id"], json!(order_id));
    wait_for_order_deleted(&system, &order_id).await;
    let requests_after = system.sim.request_log();

    // The order is gone from Certitude.
    let (status, body) = api
        .call(Method::GET, &order_path, None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let order_ids = listed_ids(&system, "/v1/orders").await;
    assert!(!order_ids.contains(&order_id), "{order_ids:?}");

    // Its certificate stays in the inventory under the same id.
    let certificate_ids = listed_ids(&system, "/v1/certificates").await;
    assert!(
        certificate_ids.contains(&certificate_id),
        "{certificate_id} not in {certificate_ids:?}"
    );
    let certificate: Value = api.get(&certificate_path).await.unwrap();
    assert_eq!(certificate["id"], json!(certificate_id));
    assert_eq!(certificate["status"], "active", "{certificate}");
    assert_eq!(certificate["order_id"], json!(order_id), "{certificate}");

    // Entrust received no request since the deletion: nothing was revoked, cancelled or read
    // for the order. No background task is due in this window (the poller skips issued orders,
    // the portal reconcile and the catalog sync run minutes or hours apart).
    let new_requests = &requests_after[requests_before.len()..];
    assert!(
        new_requests.is_empty(),
        "requests to Entrust after deleting order {tracking_id}: {new_requests:?}"
    );
    assert_eq!(requests_after[..requests_before.len()], requests_before[..]);

    system.stop().await.unwrap();
}
