//! An order that Entrust queues for approval becomes ISSUED without any user action once an
//! Entrust administrator approves it.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use certitude_system_tests::System;
use entrust_sim::Scenario;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_order_is_issued_after_approval() {
    let scenario = Scenario::demo();
    let admin = scenario
        .api_users
        .iter()
        .find(|user| user.user_name == "demo-admin")
        .unwrap();
    let system = System::start().await.unwrap();
    let api = system.api();
    let (status, credential) = api
        .post(
            "/v1/credentials",
            json!({
                "name": "demo",
                "api_base_url": system.sim.base_url(),
                "username": admin.user_name,
                "api_key": admin.api_key.expose_secret(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{credential}");

    let (status, order) = api
        .call(
            Method::POST,
            "/v1/orders",
            Some(json!({
                "credential_id": credential["id"],
                "product": "STANDARD_SSL",
                "common_name": "www.example.com",
                "queue_for_approval": true,
            })),
            Some("queued-order"),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["status"], "PENDING");
    let order_path = format!("/v1/orders/{}", order["id"].as_str().unwrap());

    system
        .sim
        .approve(order["tracking_id"].as_i64().unwrap())
        .unwrap();

    let order = api
        .wait_for(&order_path, Duration::from_secs(60), |order| {
            order["status"] == "ISSUED"
        })
        .await
        .unwrap();
    let certificate_path = format!(
        "/v1/certificates/{}",
        order["certificate_id"].as_str().unwrap()
    );
    let certificate = api
        .wait_for(&certificate_path, Duration::from_secs(60), |_| true)
        .await
        .unwrap();
    assert!(
        certificate["subject"]
            .as_str()
            .unwrap()
            .contains("www.example.com")
    );
    system.stop().await.unwrap();
}
