//! `GET /certificates/{trackingId}`: CertificateEx for issued, imported, pending, declined and
//! deactivated orders, and the 400/404 cases.

use reqwest::StatusCode;
use serde_json::json;
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::helpers::{TestSim, assert_error, keys};

#[tokio::test]
async fn issued_order_has_every_field() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2100000").await;

    assert_eq!(reply.status, StatusCode::OK);
    let body = &reply.body;
    assert_eq!(
        keys(body),
        vec![
            "certType",
            "chainCerts",
            "creatorName",
            "csr",
            "dn",
            "domainUsed",
            "eku",
            "endEntityCert",
            "expiresAfter",
            "isThirdParty",
            "issueDateTime",
            "keySize",
            "keyType",
            "org",
            "serialNumber",
            "signingAlg",
            "status",
            "subjectAltName",
            "tracking",
            "trackingId",
        ]
    );
    assert_eq!(body["trackingId"], 2_100_000);
    assert_eq!(body["status"], "ACTIVE");
    assert_eq!(body["certType"], "STANDARD_SSL");
    assert_eq!(body["dn"], "CN=www.example.com,O=Certitude Demo Corp");
    assert_eq!(body["org"], "Certitude Demo Corp");
    assert_eq!(body["keyType"], "EC");
    assert_eq!(body["keySize"], 256);
    assert_eq!(body["signingAlg"], "SHA-2");
    assert_eq!(body["eku"], "SERVER_AND_CLIENT_AUTH");
    assert_eq!(body["issueDateTime"], "2025-11-30T15:00:00Z");
    assert_eq!(body["expiresAfter"], "2026-11-30T23:59:59Z");
    assert_eq!(body["creatorName"], "demo-admin");
    assert_eq!(body["domainUsed"], "example.com");
    assert_eq!(
        body["subjectAltName"],
        json!([
            {"type": "dNSName", "value": "www.example.com"},
            {"type": "dNSName", "value": "example.com"},
        ])
    );
    assert_eq!(
        body["tracking"],
        json!({
            "trackingInfo": "web-frontend", "requesterName": "Dana Operator",
            "requesterEmail": "dana.operator@example.com", "requesterPhone": "+1 613 555 0100",
            "deactivated": false
        })
    );
    assert!(
        body["csr"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    let leaf = body["endEntityCert"].as_str().unwrap();
    assert!(leaf.starts_with("-----BEGIN CERTIFICATE-----"));
    let chain = body["chainCerts"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0], leaf);
    assert_eq!(chain[1], sim.sim.intermediate_ca_pem());

    // The reported serial and dates are the certificate's own.
    let (_, pem) = parse_x509_pem(leaf.as_bytes()).unwrap();
    let (_, certificate) = X509Certificate::from_der(&pem.contents).unwrap();
    let serial = hex_upper_trimmed(certificate.raw_serial());
    assert_eq!(body["serialNumber"], serial);
    assert_eq!(
        certificate.validity().not_after.to_datetime(),
        time::macros::datetime!(2026-11-30 23:59:59 UTC)
    );
}

fn hex_upper_trimmed(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02X}")).collect();
    hex.trim_start_matches('0').to_owned()
}

#[tokio::test]
async fn imported_real_world_certificate_keeps_its_own_facts() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2100010").await;

    let body = &reply.body;
    assert_eq!(body["status"], "EXPIRED");
    assert_eq!(body["serialNumber"], "3F20");
    assert_eq!(body["issueDateTime"], "2014-10-15T12:09:32Z");
    assert_eq!(body["expiresAfter"], "2018-11-16T01:15:03Z");
    assert_eq!(
        body["dn"],
        "CN=www.cryptography.io,OU=Domain Control Validated - RapidSSL(R),\
         OU=See www.rapidssl.com/resources/cps (c)14,OU=GT48742965"
    );
    assert_eq!(body["keyType"], "RSA");
    assert_eq!(body["keySize"], 4096);
    assert_eq!(
        body["subjectAltName"],
        json!([
            {"type": "dNSName", "value": "www.cryptography.io"},
            {"type": "dNSName", "value": "cryptography.io"},
        ])
    );
    assert_eq!(body["creatorName"], "Legacy Portal User");
    assert_eq!(body["chainCerts"].as_array().unwrap().len(), 2);
    assert_eq!(body["chainCerts"][0], body["endEntityCert"]);
    assert!(body.get("csr").is_none(), "imported orders have no CSR");
}

#[tokio::test]
async fn imported_serials_drop_leading_zeros() {
    let sim = TestSim::start().await;

    let letsencrypt = sim.get("/certificates/2100011").await;
    let rapidssl = sim.get("/certificates/2100012").await;
    let v1 = sim.get("/certificates/2100013").await;

    assert_eq!(
        letsencrypt.body["serialNumber"],
        "A0141420000015385736A0B85ECA708"
    );
    assert_eq!(letsencrypt.body["status"], "REVOKED");
    assert_eq!(rapidssl.body["serialNumber"], "23A77");
    assert_eq!(v1.body["serialNumber"], "18");
    assert_eq!(v1.body["signingAlg"], "MD5");
    assert_eq!(v1.body["keySize"], 512);
    assert_eq!(v1.body["expiresAfter"], "1995-07-17T23:33:12Z");
}

#[tokio::test]
async fn pending_order_has_csr_but_no_certificate() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2100014").await;

    let body = &reply.body;
    assert_eq!(body["status"], "PENDING");
    assert!(body["csr"].is_string());
    for absent in [
        "endEntityCert",
        "chainCerts",
        "serialNumber",
        "expiresAfter",
        "issueDateTime",
    ] {
        assert!(body.get(absent).is_none(), "{absent} must be absent");
    }
    assert_eq!(body["tracking"]["deactivated"], false);
    assert_eq!(body["creatorName"], "demo-requester");
}

#[tokio::test]
async fn declined_order_reports_reason() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2100017").await;

    assert_eq!(reply.body["status"], "DECLINED");
    assert_eq!(
        reply.body["declineReason"],
        "Requester could not be verified."
    );
    assert!(reply.body.get("endEntityCert").is_none());
}

#[tokio::test]
async fn deactivated_and_suspended_orders() {
    let sim = TestSim::start().await;

    let deactivated = sim.get("/certificates/2100021").await;
    let suspended = sim.get("/certificates/2100018").await;

    assert_eq!(deactivated.body["status"], "DEACTIVATED");
    assert_eq!(deactivated.body["tracking"]["deactivated"], true);
    assert_eq!(
        deactivated.body["tracking"]["deactivatedOn"],
        "2026-03-03T15:00:00Z"
    );
    assert_eq!(suspended.body["status"], "SUSPENDED");
    assert!(suspended.body["endEntityCert"].is_string());
}

#[tokio::test]
async fn client_two_order_uses_unicode_organization() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2100005").await;

    assert_eq!(reply.body["org"], "Cañon City, Inc.");
    assert_eq!(
        reply.body["dn"],
        "CN=portal.canon-city.test,O=Cañon City\\, Inc."
    );
    assert_eq!(reply.body["tracking"]["requesterName"], "Inés Cañón");
}

#[tokio::test]
async fn rsa_order_reports_key_size() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2100002").await;

    assert_eq!(reply.body["keyType"], "RSA");
    assert_eq!(reply.body["keySize"], 2048);
    assert_eq!(reply.body["dn"], "CN=*.example.com,O=Certitude Demo Corp");
}

#[tokio::test]
async fn zero_padded_tracking_id_is_accepted() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/02100001").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["trackingId"], 2_100_001);
}

#[tokio::test]
async fn unknown_tracking_id_is_404() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates/2199999").await;

    let message = assert_error(&reply, StatusCode::NOT_FOUND, None);
    assert!(message.contains("2199999"), "{message}");
}

#[tokio::test]
async fn non_integer_tracking_id_is_400() {
    let sim = TestSim::start().await;

    for id in ["abc", "12.5", "99999999999"] {
        let reply = sim.get(&format!("/certificates/{id}")).await;

        assert_error(&reply, StatusCode::BAD_REQUEST, Some("trackingId"));
    }
}
