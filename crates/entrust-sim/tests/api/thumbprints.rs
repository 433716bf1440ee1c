//! Third-party certificates (trackingId 0), `isThirdParty`, and
//! `GET /certificates/thumbprints/{thumbprint}`.

use reqwest::StatusCode;
use serde_json::Value;
use x509_parser::pem::parse_x509_pem;

use crate::helpers::{DEMO_ORDERS, TestSim, assert_error};

/// Returns the upper-case SHA-1 hex of a PEM certificate's DER.
fn sha1_of(pem: &str) -> String {
    let der = parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    hex::encode_upper(digest.as_ref())
}

async fn third_party_items(sim: &TestSim) -> Vec<Value> {
    let reply = sim.get("/certificates?isThirdParty=true&fields=*").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["certificates"].as_array().unwrap().clone()
}

#[tokio::test]
async fn third_party_record_is_listed_with_thumbprint_uri() {
    let sim = TestSim::start().await;

    let items = third_party_items(&sim).await;

    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["trackingId"], 0);
    assert_eq!(item["status"], "UNKNOWN");
    assert_eq!(item["isThirdParty"], true);
    assert_eq!(
        item["dn"],
        "CN=legacy-lb.example.com,O=Certitude Demo Corp,C=US"
    );
    assert_eq!(item["serialNumber"], "C0FFEE5D15C0BE1");
    assert!(item.get("certType").is_none());
    let uri = item["uri"].as_str().unwrap();
    let thumbprint = uri
        .strip_prefix("/enterprise/v2/certificates/thumbprints/")
        .unwrap_or_else(|| panic!("unexpected uri {uri}"));
    assert_eq!(thumbprint.len(), 40);
    assert_eq!(thumbprint, thumbprint.to_ascii_uppercase());
}

#[tokio::test]
async fn is_third_party_filter_splits_the_list() {
    let sim = TestSim::start().await;

    let ordered = sim.get("/certificates?isThirdParty=false&limit=1000").await;
    let all = sim.get("/certificates?limit=1000").await;

    assert_eq!(ordered.body["summary"]["total"], DEMO_ORDERS);
    assert_eq!(all.body["summary"]["total"], DEMO_ORDERS + 1);
    let zero_ids = ordered.body["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["trackingId"] == 0)
        .count();
    assert_eq!(zero_ids, 0);
}

#[tokio::test]
async fn thumbprint_lookup_returns_unknown_status_in_any_case() {
    let sim = TestSim::start().await;
    let item = third_party_items(&sim).await.remove(0);
    let uri = item["uri"].as_str().unwrap();
    let thumbprint = uri.rsplit('/').next().unwrap().to_owned();

    let upper = sim
        .get(&format!("/certificates/thumbprints/{thumbprint}"))
        .await;
    let lower = sim
        .get(&format!(
            "/certificates/thumbprints/{}",
            thumbprint.to_ascii_lowercase()
        ))
        .await;

    assert_eq!(upper.status, StatusCode::OK, "{}", upper.text);
    assert_eq!(upper.body, lower.body);
    assert_eq!(upper.body["trackingId"], 0);
    assert_eq!(upper.body["status"], "UNKNOWN");
    assert_eq!(upper.body["tracking"]["deactivated"], false);
    assert_eq!(
        upper.body["tracking"]["trackingInfo"],
        "discovered-load-balancer"
    );
    let pem = upper.body["endEntityCert"].as_str().unwrap();
    assert_eq!(sha1_of(pem), thumbprint);
    assert_eq!(upper.body["chainCerts"].as_array().unwrap().len(), 2);
    assert!(upper.body.get("csr").is_none());
}

#[tokio::test]
async fn ordered_certificate_is_found_by_thumbprint() {
    let sim = TestSim::start().await;
    let detail = sim.get("/certificates/2100000").await.body;
    let thumbprint = sha1_of(detail["endEntityCert"].as_str().unwrap());

    let reply = sim
        .get(&format!("/certificates/thumbprints/{thumbprint}"))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["trackingId"], 2_100_000);
    assert_eq!(reply.body["status"], "ACTIVE");
    assert_eq!(reply.body["isThirdParty"], false);
}

#[tokio::test]
async fn unknown_or_malformed_thumbprint_fails() {
    let sim = TestSim::start().await;

    let unknown = sim
        .get("/certificates/thumbprints/0000000000000000000000000000000000000000")
        .await;
    let short = sim.get("/certificates/thumbprints/ABCDEF").await;
    let not_hex = sim
        .get("/certificates/thumbprints/ZZ00000000000000000000000000000000000000")
        .await;

    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    assert_error(&short, StatusCode::BAD_REQUEST, Some("thumbprint"));
    assert_error(&not_hex, StatusCode::BAD_REQUEST, Some("thumbprint"));
}

#[tokio::test]
async fn tracking_id_zero_is_not_an_order() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/0").await;

    assert_error(&reply, StatusCode::NOT_FOUND, None);
}
