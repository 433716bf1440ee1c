//! An order whose certificate arrives while the license count is reached shows that its
//! certificate waits outside the inventory, and shows it in the inventory once the license is
//! raised.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use certitude_system_tests::{Api, System};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Places an order for `common_name` and returns its path under `/v1/orders`.
async fn place_order(api: &Api, credential_id: &str, common_name: &str) -> String {
    let (status, order) = api
        .call(
            Method::POST,
            "/v1/orders",
            Some(json!({
                "credential_id": credential_id,
                "product": "STANDARD_SSL",
                "common_name": common_name,
            })),
            Some(common_name),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    format!("/v1/orders/{}", order["id"].as_str().unwrap())
}

/// Sets the licensed count as the admin and returns the license.
async fn set_license(api: &Api, licensed: u64) -> Value {
    let (status, license) = api
        .call(
            Method::PUT,
            "/v1/license",
            Some(json!({ "licensed": licensed })),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{license}");
    license
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_shows_license_wait_until_raised() {
    let system = System::start().await.unwrap();
    let api = system.api();
    let credential_id = system.add_synced_demo_credential(false).await.unwrap();

    // One certificate in the inventory, then a license of exactly the held count.
    let first_path = place_order(&api, &credential_id, "www.example.com").await;
    api.wait_for(&first_path, WAIT, |order| {
        order["inventory_state"] == "in_inventory"
    })
    .await
    .unwrap();
    let held_count = api.get("/v1/license").await.unwrap()["held"]
        .as_u64()
        .unwrap();
    assert!(held_count >= 1, "the first order's certificate is held");
    let license = set_license(&api, held_count).await;
    assert_eq!(license["available"], json!(0), "{license}");

    // The next certificate waits, and its order shows the waiting state and the reason.
    let second_path = place_order(&api, &credential_id, "www.example.org").await;
    let order = api
        .wait_for(&second_path, WAIT, |order| {
            order["inventory_state"] == "waiting"
        })
        .await
        .unwrap();
    assert_eq!(order["status"], "ISSUED", "{order}");
    assert_eq!(order["inventory_reason"], "license_limit", "{order}");
    let message = order["inventory_message"].as_str().unwrap();
    assert!(
        message.starts_with("issued, not in inventory: license limit: "),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "the license allows {held_count} certificates and {held_count} are held"
        )),
        "{message}"
    );
    let license = api.get("/v1/license").await.unwrap();
    assert_eq!(license["waiting"], json!(1), "{license}");

    // Raising the license admits the certificate, and the order follows.
    set_license(&api, held_count + 1).await;
    let order = api
        .wait_for(&second_path, WAIT, |order| {
            order["inventory_state"] == "in_inventory"
        })
        .await
        .unwrap();
    assert!(order.get("inventory_reason").is_none(), "{order}");
    assert!(order.get("inventory_message").is_none(), "{order}");
    let certificate_path = format!(
        "/v1/certificates/{}",
        order["certificate_id"].as_str().unwrap()
    );
    let certificate = api.get(&certificate_path).await.unwrap();
    assert_eq!(certificate["inventory_state"], "held", "{certificate}");

    system.stop().await.unwrap();
}
