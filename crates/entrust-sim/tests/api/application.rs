//! `GET /application/version` and `GET /clients`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{REQUESTER, TestSim};

#[tokio::test]
async fn version_returns_scenario_build_string() {
    let sim = TestSim::start().await;

    let reply = sim.get("/application/version").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({ "version": "12.5.0.138-sim" }));
    assert_eq!(
        reply.headers["content-type"].to_str().unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn version_is_readable_by_requester() {
    let sim = TestSim::start().await;

    let reply = sim.get_as("/application/version", REQUESTER).await;

    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn clients_lists_demo_clients() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({ "clients": [
            {"clientId": 1, "clientName": "Certitude Demo Corp", "verificationStatus": "APPROVED",
             "uri": "/enterprise/v2/clients/1"},
            {"clientId": 2, "clientName": "Cañon City, Inc.", "verificationStatus": "APPROVED",
             "uri": "/enterprise/v2/clients/2"},
            {"clientId": 3, "clientName": "Northwind Retail GmbH", "verificationStatus": "PENDING",
             "uri": "/enterprise/v2/clients/3"},
        ]})
    );
}
