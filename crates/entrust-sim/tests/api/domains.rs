//! `GET /domains` and `GET /clients/{clientId}/domains`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestSim, assert_error, keys};

fn names(reply_body: &Value) -> Vec<String> {
    reply_body["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|domain| domain["domainName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn all_domains_sorted_by_name_with_summary() {
    let sim = TestSim::start().await;

    let reply = sim.get("/domains").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(keys(&reply.body), vec!["domains", "summary"]);
    let summary = &reply.body["summary"];
    assert_eq!(
        keys(summary),
        vec!["elapsed", "limit", "offset", "sort", "timestamp", "total"]
    );
    assert_eq!(summary["timestamp"], "2026-03-10T15:00:00.000Z");
    assert!(summary["elapsed"].is_u64());
    assert_eq!(summary["offset"], 0);
    assert_eq!(summary["limit"], 25);
    assert_eq!(summary["total"], 8);
    assert_eq!(summary["sort"], "domainName:asc");
    assert_eq!(
        names(&reply.body),
        vec![
            "canon-city.test",
            "example.com",
            "example.net",
            "example.org",
            "lapsed.test",
            "new-product.test",
            "rejected.test",
            "withdrawn.test",
        ]
    );
}

#[tokio::test]
async fn domain_fields_omit_absent_dates() {
    let sim = TestSim::start().await;

    let reply = sim.get("/domains").await;

    let domains = reply.body["domains"].as_array().unwrap();
    let by_name = |name: &str| {
        domains
            .iter()
            .find(|domain| domain["domainName"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_name("example.com"),
        json!({
            "domainName": "example.com", "verificationMethod": "DNS",
            "verificationStatus": "APPROVED", "ovEligible": true,
            "ovExpiry": "2027-01-04T15:00:00Z", "evEligible": true,
            "evExpiry": "2026-09-26T15:00:00Z", "clientId": 1
        })
    );
    assert_eq!(
        by_name("example.net"),
        json!({
            "domainName": "example.net", "verificationMethod": "EMAIL",
            "verificationStatus": "RE_VERIFICATION", "ovEligible": true,
            "ovExpiry": "2026-03-30T15:00:00Z", "evEligible": false, "clientId": 1
        })
    );
    assert_eq!(
        by_name("new-product.test"),
        json!({
            "domainName": "new-product.test", "verificationMethod": "DNS",
            "verificationStatus": "INITIAL_VERIFICATION", "ovEligible": false,
            "evEligible": false, "clientId": 1
        })
    );
    assert_eq!(by_name("lapsed.test")["ovExpiry"], "2026-02-28T15:00:00Z");
    assert_eq!(by_name("example.org")["verificationStatus"], "EXPIRING");
    assert_eq!(by_name("rejected.test")["verificationStatus"], "DECLINED");
    assert_eq!(by_name("withdrawn.test")["verificationStatus"], "CANCELLED");
    assert_eq!(by_name("canon-city.test")["verificationMethod"], "MANUAL");
    assert_eq!(by_name("example.org")["verificationMethod"], "WEB_SERVER");
}

#[tokio::test]
async fn client_domains_lists_one_client() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/2/domains").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["summary"]["total"], 2);
    assert_eq!(
        names(&reply.body),
        vec!["canon-city.test", "withdrawn.test"]
    );
    for domain in reply.body["domains"].as_array().unwrap() {
        assert_eq!(domain["clientId"], 2);
    }
}

#[tokio::test]
async fn client_domains_of_unknown_client_is_404() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/99/domains").await;

    let message = assert_error(&reply, StatusCode::NOT_FOUND, None);
    assert!(message.contains("99"), "{message}");
}

#[tokio::test]
async fn client_domains_with_non_integer_client_is_400() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/abc/domains").await;

    assert_error(&reply, StatusCode::BAD_REQUEST, Some("clientId"));
}

#[tokio::test]
async fn domain_paging_covers_every_item_once() {
    let sim = TestSim::start().await;

    let first = sim.get("/domains?limit=4").await;
    let second = sim.get("/domains?offset=4&limit=4").await;
    let past_end = sim.get("/domains?offset=8&limit=4").await;

    assert_eq!(names(&first.body).len(), 4);
    // 8 domains: the second page is an exact multiple and ends the list.
    assert_eq!(
        names(&second.body),
        vec![
            "lapsed.test",
            "new-product.test",
            "rejected.test",
            "withdrawn.test"
        ]
    );
    assert_eq!(second.body["summary"]["offset"], 4);
    assert_eq!(second.body["summary"]["limit"], 4);
    assert_eq!(second.body["summary"]["total"], 8);
    assert_eq!(past_end.status, StatusCode::OK);
    assert!(names(&past_end.body).is_empty());
    assert_eq!(past_end.body["summary"]["total"], 8);
}

#[tokio::test]
async fn domain_limit_out_of_range_is_400() {
    let sim = TestSim::start().await;

    for limit in ["0", "1001", "ten"] {
        let reply = sim.get(&format!("/domains?limit={limit}")).await;

        assert_error(&reply, StatusCode::BAD_REQUEST, Some("limit"));
    }
}

#[tokio::test]
async fn domain_filters_status_client_and_expiry() {
    let sim = TestSim::start().await;

    let usable = sim
        .get("/domains?verificationStatus=in:APPROVED,RE_VERIFICATION,EXPIRING&clientId=1")
        .await;
    let expiring_soon = sim.get("/domains?ovExpiry=lt:2026-05-01T00:00:00Z").await;
    let by_name = sim.get("/clients/1/domains?domainName=con:example").await;

    assert_eq!(
        names(&usable.body),
        vec!["example.com", "example.net", "example.org"]
    );
    assert_eq!(
        names(&expiring_soon.body),
        vec!["example.net", "example.org", "lapsed.test"]
    );
    assert_eq!(by_name.body["summary"]["total"], 3);
}

#[tokio::test]
async fn domain_sort_descending() {
    let sim = TestSim::start().await;

    let reply = sim.get("/domains?sort=domainName:desc&limit=2").await;

    assert_eq!(reply.body["summary"]["sort"], "domainName:desc");
    assert_eq!(names(&reply.body), vec!["withdrawn.test", "rejected.test"]);
}

#[tokio::test]
async fn domain_unknown_parameter_is_400() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/1/domains?clientId=2").await;

    assert_error(&reply, StatusCode::BAD_REQUEST, Some("clientId"));
}
