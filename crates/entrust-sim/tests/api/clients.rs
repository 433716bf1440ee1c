//! `GET /clients/{clientId}` and `GET /clients/{clientId}/organizations`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestSim, assert_error, keys};

#[tokio::test]
async fn primary_client_detail_lists_its_organizations() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/1").await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        keys(&reply.body),
        vec![
            "address",
            "authContact",
            "clientId",
            "clientName",
            "organizations",
            "verificationStatus"
        ]
    );
    assert_eq!(reply.body["clientName"], "Certitude Demo Corp");
    assert_eq!(reply.body["address"]["city"], "Ottawa");
    assert_eq!(reply.body["authContact"]["name"], "Dana Operator");
    assert_eq!(
        reply.body["organizations"],
        json!([
            {"name": "Certitude Demo Corp", "verificationStatus": "APPROVED"},
            {"name": "Certitude Demo Labs", "verificationStatus": "PENDING"},
            {"name": "Certitude Legacy Brands", "verificationStatus": "EXPIRED"},
        ])
    );
}

#[tokio::test]
async fn other_client_detail_omits_organizations() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/2").await;
    let pending = sim.get("/clients/3").await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["clientName"], "Cañon City, Inc.");
    assert!(reply.body.get("organizations").is_none());
    assert_eq!(reply.body["address"]["city"], "Cañon City");
    assert_eq!(
        pending.body,
        json!({"clientId": 3, "clientName": "Northwind Retail GmbH", "verificationStatus": "PENDING"})
    );
}

#[tokio::test]
async fn client_organizations_omit_client_id() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/2/organizations").await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"organizations": [{"name": "Cañon City, Inc.", "verificationStatus": "APPROVED"}]})
    );
}

#[tokio::test]
async fn unknown_or_malformed_client_fails() {
    let sim = TestSim::start().await;

    for path in ["/clients/9", "/clients/9/organizations"] {
        let reply = sim.get(path).await;

        let message = assert_error(&reply, StatusCode::NOT_FOUND, None);
        assert!(message.contains("Client 9"), "{message}");
    }
    let malformed = sim.get("/clients/first").await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, Some("clientId"));
}
