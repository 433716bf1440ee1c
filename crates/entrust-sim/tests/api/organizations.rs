//! `GET /organizations` and `GET /inventories`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestSim;

#[tokio::test]
async fn organizations_lists_every_client() {
    let sim = TestSim::start().await;

    let reply = sim.get("/organizations").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({ "organizations": [
            {"name": "Certitude Demo Corp", "verificationStatus": "APPROVED", "clientId": 1},
            {"name": "Certitude Demo Labs", "verificationStatus": "PENDING", "clientId": 1},
            {"name": "Certitude Legacy Brands", "verificationStatus": "EXPIRED", "clientId": 1},
            {"name": "Cañon City, Inc.", "verificationStatus": "APPROVED", "clientId": 2},
            {"name": "Northwind Retail GmbH", "verificationStatus": "DEACTIVATED", "clientId": 3},
        ]})
    );
}

#[tokio::test]
async fn inventories_reports_counts_and_unlimited_product() {
    let sim = TestSim::start().await;

    let reply = sim.get("/inventories").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({ "inventories": [
            {"productType": "STANDARD_SSL", "totalCount": 20, "remainingCount": 14, "usedCount": 6},
            {"productType": "ADVANTAGE_SSL", "totalCount": 10, "remainingCount": 7, "usedCount": 3},
            {"productType": "WILDCARD_SSL", "totalCount": 5, "remainingCount": 4, "usedCount": 1},
            {"productType": "EV_SSL", "totalCount": 3, "remainingCount": 2, "usedCount": 1},
            {"productType": "PD_SSL", "totalCount": 2, "remainingCount": 0, "usedCount": 2},
            {"productType": "FLEX", "totalCount": 10, "remainingCount": 6, "usedCount": 4},
            {"productType": "UC_SSL", "consumptionType": "UNLIMITED"},
        ]})
    );
}
