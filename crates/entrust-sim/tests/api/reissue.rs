//! `POST /certificates/{trackingId}/reissues`: a new tracking id and serial with the original
//! expiry, the original key unless a CSR brings a new one, and the original turned REISSUED.

use reqwest::StatusCode;
use serde_json::{Value, json};
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::helpers::{DEMO_ORDERS, FIRST_ID, REQUESTER, TestSim, assert_error, ec_csr};

const ACTIVE: i64 = 2_100_000;
const NEXT_ID: i64 = FIRST_ID + DEMO_ORDERS;

/// Returns the DER SubjectPublicKeyInfo of a PEM certificate.
pub fn public_key_of(pem: &str) -> Vec<u8> {
    let der = parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
    let (_, certificate) = X509Certificate::from_der(&der).unwrap();
    certificate.public_key().raw.to_vec()
}

async fn detail(sim: &TestSim, tracking_id: i64) -> Value {
    let reply = sim.get(&format!("/certificates/{tracking_id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn reissue_without_csr_keeps_key_and_expiry() {
    let sim = TestSim::start().await;
    let original = detail(&sim, ACTIVE).await;
    let inventory_before = sim.get("/inventories").await.body;

    let reply = sim
        .post(&format!("/certificates/{ACTIVE}/reissues"), &json!({}))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["trackingId"], NEXT_ID);
    assert_ne!(reply.body["serialNumber"], original["serialNumber"]);
    assert_eq!(reply.body["expiresAfter"], original["expiresAfter"]);
    assert_eq!(
        public_key_of(reply.body["endEntityCert"].as_str().unwrap()),
        public_key_of(original["endEntityCert"].as_str().unwrap())
    );
    let successor = detail(&sim, NEXT_ID).await;
    assert_eq!(successor["status"], "ACTIVE");
    assert_eq!(successor["dn"], original["dn"]);
    assert_eq!(successor["certType"], "STANDARD_SSL");
    assert_eq!(successor["subjectAltName"], original["subjectAltName"]);
    assert_eq!(successor["tracking"], original["tracking"]);
    assert_eq!(successor["creatorName"], "demo-admin");
    assert_eq!(sim.get("/inventories").await.body, inventory_before);
}

#[tokio::test]
async fn reissue_turns_original_reissued_and_revoked() {
    let sim = TestSim::start().await;

    let reply = sim
        .post(&format!("/certificates/{ACTIVE}/reissues"), &json!({}))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(sim.status_of(ACTIVE).await, "REISSUED");
    let revocation = sim.sim.revocation(ACTIVE).unwrap().expect("revoked");
    assert_eq!(revocation.reason, "superseded");
    assert_eq!(revocation.revoked_at, crate::helpers::NOW);
    assert!(sim.sim.revocation(NEXT_ID).unwrap().is_none());
}

#[tokio::test]
async fn reissue_with_csr_uses_the_new_key() {
    let sim = TestSim::start().await;
    let (csr, key) = ec_csr("www.example.com", &["www.example.com", "example.com"]);

    let reply = sim
        .post(
            &format!("/certificates/{ACTIVE}/reissues"),
            &json!({"csr": csr, "tracking": {"trackingInfo": "rotated-key"}}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let certificate = reply.body["endEntityCert"].as_str().unwrap();
    assert_eq!(
        public_key_of(certificate),
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    let successor = detail(&sim, NEXT_ID).await;
    assert_eq!(successor["tracking"]["trackingInfo"], "rotated-key");
    assert_eq!(successor["csr"].as_str().unwrap().trim(), csr.trim());
}

#[tokio::test]
async fn reissue_rejects_expiry_fields_and_validate_only() {
    let sim = TestSim::start().await;
    let cases = [
        ("certExpiryDate", json!({"certExpiryDate": "2026-12-01"})),
        ("certLifetime", json!({"certLifetime": "P1Y"})),
        ("validateOnly", json!({"validateOnly": true})),
        ("validateOnly", json!({"validateOnly": "false"})),
    ];

    for (field, body) in cases {
        let reply = sim
            .post(&format!("/certificates/{ACTIVE}/reissues"), &body)
            .await;

        assert_error(&reply, StatusCode::BAD_REQUEST, Some(field));
    }
    assert_eq!(sim.status_of(ACTIVE).await, "ACTIVE");
    let next = sim.get(&format!("/certificates/{NEXT_ID}")).await;
    assert_error(&next, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn reissue_needs_active_or_ready_order() {
    let sim = TestSim::start().await;
    let cases = [
        (2_100_014, "PENDING"),
        (2_100_007, "EXPIRED"),
        (2_100_009, "REVOKED"),
        (2_100_018, "SUSPENDED"),
    ];

    for (tracking_id, status) in cases {
        let reply = sim
            .post(&format!("/certificates/{tracking_id}/reissues"), &json!({}))
            .await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, None);
        assert!(message.contains(status), "{message}");
        assert_eq!(sim.status_of(tracking_id).await, status);
    }
}

#[tokio::test]
async fn reissue_of_unknown_or_malformed_id_fails() {
    let sim = TestSim::start().await;

    let unknown = sim.post("/certificates/2199999/reissues", &json!({})).await;
    let malformed = sim.post("/certificates/x1/reissues", &json!({})).await;

    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    assert_error(&malformed, StatusCode::BAD_REQUEST, Some("trackingId"));
}

#[tokio::test]
async fn reissue_with_name_outside_client_domains_is_400() {
    let sim = TestSim::start().await;

    let multi = 2_100_019;

    let reply = sim
        .post(
            &format!("/certificates/{multi}/reissues"),
            &json!({"subjectAltName": ["multi.example.com", "www.rejected.test"]}),
        )
        .await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("subjectAltName"));
    assert!(message.contains("DECLINED"), "{message}");
    assert_eq!(sim.status_of(multi).await, "ACTIVE");
}

#[tokio::test]
async fn requester_cannot_reissue() {
    let sim = TestSim::start().await;

    let reply = sim
        .post_as(
            &format!("/certificates/{ACTIVE}/reissues"),
            &json!({}),
            REQUESTER,
        )
        .await;

    assert_error(&reply, StatusCode::FORBIDDEN, None);
    assert_eq!(sim.status_of(ACTIVE).await, "ACTIVE");
}
