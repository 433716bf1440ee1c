//! `POST /certificates`: issued (201), queued (202), validate-only (200) and rejected (400)
//! orders, the certificates they produce and the inventory they consume.

use rcgen::PublicKeyData;
use reqwest::StatusCode;
use serde_json::{Value, json};
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::helpers::{
    DEMO_ORDERS, FIRST_ID, NOW, REQUESTER, TestSim, assert_error, ec_csr, keys, rsa_csr,
};

const NEXT_ID: i64 = FIRST_ID + DEMO_ORDERS;

fn order(cert_type: &str, csr: &str) -> Value {
    json!({
        "certType": cert_type,
        "csr": csr,
        "certExpiryDate": "2027-01-15",
        "tracking": {
            "trackingInfo": "certitude-order-7f3a",
            "requesterName": "Test Runner",
            "requesterEmail": "runner@example.com",
            "requesterPhone": "555-0100"
        }
    })
}

fn der_of(pem: &str) -> Vec<u8> {
    parse_x509_pem(pem.as_bytes()).unwrap().1.contents
}

#[tokio::test]
async fn issued_order_returns_verifiable_chain_with_csr_key() {
    let sim = TestSim::start().await;
    let (csr, key) = ec_csr("app.example.com", &["app.example.com", "app2.example.com"]);

    let reply = sim
        .post("/certificates", &order("ADVANTAGE_SSL", &csr))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = &reply.body;
    assert_eq!(
        keys(body),
        vec![
            "chainCerts",
            "endEntityCert",
            "expiresAfter",
            "serialNumber",
            "trackingId"
        ]
    );
    assert_eq!(body["trackingId"], NEXT_ID);
    assert_eq!(body["expiresAfter"], "2027-01-15T23:59:59Z");
    let leaf_pem = body["endEntityCert"].as_str().unwrap();
    let chain = body["chainCerts"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "leaf and intermediate, no root");
    assert_eq!(chain[0], leaf_pem, "the leaf comes first");
    assert_eq!(chain[1], sim.sim.intermediate_ca_pem());

    let leaf_der = der_of(leaf_pem);
    let intermediate_der = der_of(chain[1].as_str().unwrap());
    let root_der = der_of(&sim.sim.root_ca_pem());
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, intermediate) = X509Certificate::from_der(&intermediate_der).unwrap();
    let (_, root) = X509Certificate::from_der(&root_der).unwrap();
    leaf.verify_signature(Some(intermediate.public_key()))
        .expect("the intermediate signed the leaf");
    intermediate
        .verify_signature(Some(root.public_key()))
        .expect("the root signed the intermediate");
    root.verify_signature(None)
        .expect("the root is self-signed");
    assert_eq!(leaf.issuer(), intermediate.subject());
    assert_eq!(
        leaf.public_key().raw,
        key.subject_public_key_info().as_slice()
    );

    let serial: String = leaf
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(body["serialNumber"], serial.trim_start_matches('0'));
    assert_eq!(leaf.validity().not_before.to_datetime(), NOW);
    assert_eq!(
        leaf.validity().not_after.to_datetime(),
        time::macros::datetime!(2027-01-15 23:59:59 UTC)
    );
    let names: Vec<String> = leaf
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["app.example.com", "app2.example.com"]);
    let common_name = leaf.subject().iter_common_name().next().unwrap();
    assert_eq!(common_name.as_str().unwrap(), "app.example.com");
    let organization = leaf.subject().iter_organization().next().unwrap();
    assert_eq!(organization.as_str().unwrap(), "Certitude Demo Corp");
}

#[tokio::test]
async fn issued_order_is_stored_as_active() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("app.example.com", &[]);
    let placed = sim
        .post("/certificates", &order("ADVANTAGE_SSL", &csr))
        .await;

    let detail = sim.get(&format!("/certificates/{NEXT_ID}")).await;
    let found = sim
        .get("/certificates?tracking.trackingInfo=certitude-order-7f3a")
        .await;

    let body = &detail.body;
    assert_eq!(body["status"], "ACTIVE");
    assert_eq!(body["certType"], "ADVANTAGE_SSL");
    assert_eq!(body["creatorName"], "demo-admin");
    assert_eq!(body["issueDateTime"], "2026-03-10T15:00:00Z");
    assert_eq!(body["serialNumber"], placed.body["serialNumber"]);
    assert_eq!(body["endEntityCert"], placed.body["endEntityCert"]);
    assert_eq!(body["tracking"]["requesterEmail"], "runner@example.com");
    assert_eq!(body["csr"].as_str().unwrap().trim(), csr.trim());
    assert_eq!(body["domainUsed"], "example.com");
    assert_eq!(found.body["summary"]["total"], 1);
    assert_eq!(found.body["certificates"][0]["trackingId"], NEXT_ID);
}

#[tokio::test]
async fn rsa_csr_is_issued() {
    let sim = TestSim::start().await;
    let (csr, key) = rsa_csr("rsa.example.com", &["rsa.example.com"]);

    let reply = sim
        .post("/certificates", &order("STANDARD_SSL", &csr))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let leaf_der = der_of(reply.body["endEntityCert"].as_str().unwrap());
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        key.subject_public_key_info().as_slice()
    );
    let detail = sim.get(&format!("/certificates/{NEXT_ID}")).await;
    assert_eq!(detail.body["keyType"], "RSA");
    assert_eq!(detail.body["keySize"], 2048);
}

#[tokio::test]
async fn tracking_ids_grow_by_one() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("a.example.com", &[]);

    let first = sim
        .post("/certificates", &order("STANDARD_SSL", &csr))
        .await;
    let second = sim
        .post("/certificates", &order("STANDARD_SSL", &csr))
        .await;

    assert_eq!(first.body["trackingId"], NEXT_ID);
    assert_eq!(second.body["trackingId"], NEXT_ID + 1);
    assert_ne!(first.body["serialNumber"], second.body["serialNumber"]);
}

#[tokio::test]
async fn queued_order_is_pending_until_approved() {
    let sim = TestSim::start().await;
    let (csr, key) = ec_csr("queued.example.org", &[]);
    let mut body = order("STANDARD_SSL", &csr);
    body["queueForApproval"] = json!(true);

    let queued = sim.post_as("/certificates", &body, REQUESTER).await;
    let pending = sim.get(&format!("/certificates/{NEXT_ID}")).await;
    let approved = sim
        .control(
            reqwest::Method::POST,
            &format!("/certificates/{NEXT_ID}/approve"),
        )
        .await;
    let active = sim.get(&format!("/certificates/{NEXT_ID}")).await;
    let again = sim
        .control(
            reqwest::Method::POST,
            &format!("/certificates/{NEXT_ID}/approve"),
        )
        .await;

    assert_eq!(queued.status, StatusCode::ACCEPTED);
    assert_eq!(queued.body, json!({ "trackingId": NEXT_ID }));
    assert_eq!(pending.body["status"], "PENDING");
    assert!(pending.body.get("endEntityCert").is_none());
    assert_eq!(pending.body["creatorName"], "demo-requester");
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.body["trackingId"], NEXT_ID);
    assert_eq!(active.body["status"], "ACTIVE");
    assert_eq!(active.body["endEntityCert"], approved.body["endEntityCert"]);
    let leaf_der = der_of(active.body["endEntityCert"].as_str().unwrap());
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        key.subject_public_key_info().as_slice()
    );
    assert_error(&again, StatusCode::BAD_REQUEST, None);
}

#[tokio::test]
async fn demo_pending_order_is_approved_by_library_call() {
    let sim = TestSim::start().await;

    sim.sim.approve(2_100_015).unwrap();
    let detail = sim.get("/certificates/2100015").await;

    assert_eq!(detail.body["status"], "ACTIVE");
    assert_eq!(detail.body["chainCerts"].as_array().unwrap().len(), 2);
    assert!(sim.sim.approve(2_100_015).is_err());
    assert!(sim.sim.approve(2_199_999).is_err());
}

#[tokio::test]
async fn validate_only_consumes_nothing() {
    let sim = TestSim::start().await;
    let inventory_before = sim.get("/inventories").await.body;
    let (csr, _) = ec_csr("check.example.com", &[]);
    let mut body = order("STANDARD_SSL", &csr);
    body["validateOnly"] = json!("true");

    let validated = sim.post("/certificates", &body).await;
    let inventory_after = sim.get("/inventories").await.body;
    let list = sim.get("/certificates?isThirdParty=false").await;
    let real = sim
        .post("/certificates", &order("STANDARD_SSL", &csr))
        .await;

    assert_eq!(validated.status, StatusCode::OK, "{}", validated.text);
    assert_eq!(validated.body, json!({}));
    assert_eq!(inventory_after, inventory_before);
    assert_eq!(list.body["summary"]["total"], DEMO_ORDERS);
    assert_eq!(
        real.body["trackingId"], NEXT_ID,
        "validation takes no tracking id"
    );
}

#[tokio::test]
async fn validate_only_still_rejects_invalid_requests() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("www.new-product.test", &[]);
    let mut body = order("STANDARD_SSL", &csr);
    body["validateOnly"] = json!(true);

    let reply = sim.post("/certificates", &body).await;

    assert_error(&reply, StatusCode::BAD_REQUEST, Some("csr"));
}

#[tokio::test]
async fn issue_decrements_product_inventory() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("inv.example.com", &[]);

    sim.post("/certificates", &order("STANDARD_SSL", &csr))
        .await;
    let standard = sim.inventory("STANDARD_SSL").await;
    let flex = sim.inventory("FLEX").await;

    assert_eq!(standard["remainingCount"], 13);
    assert_eq!(standard["usedCount"], 7);
    assert_eq!(standard["totalCount"], 20);
    assert_eq!(flex["remainingCount"], 6);
}

#[tokio::test]
async fn product_missing_from_inventory_draws_on_flex() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("private.example.com", &[]);

    let reply = sim.post("/certificates", &order("PRIVATE_SSL", &csr)).await;
    let flex = sim.inventory("FLEX").await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(flex["remainingCount"], 5);
    assert_eq!(flex["usedCount"], 5);
}

#[tokio::test]
async fn queued_order_consumes_inventory() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("ev.example.com", &[]);
    let mut body = order("EV_SSL", &csr);
    body["queueForApproval"] = json!("true");

    let reply = sim.post("/certificates", &body).await;

    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(sim.inventory("EV_SSL").await["remainingCount"], 1);
}

#[tokio::test]
async fn unlimited_product_keeps_no_counts() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("uc.example.com", &["uc.example.com", "uc.example.net"]);

    let reply = sim.post("/certificates", &order("UC_SSL", &csr)).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        sim.inventory("UC_SSL").await,
        json!({"productType": "UC_SSL", "consumptionType": "UNLIMITED"})
    );
}

#[tokio::test]
async fn exhausted_inventory_is_400() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("pd.example.com", &[]);

    let reply = sim.post("/certificates", &order("PD_SSL", &csr)).await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("certType"));
    assert!(message.contains("PD_SSL"), "{message}");
}

#[tokio::test]
async fn unknown_and_missing_cert_type_are_400() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("x.example.com", &[]);
    let mut missing = order("STANDARD_SSL", &csr);
    missing.as_object_mut().unwrap().remove("certType");

    let unknown = sim.post("/certificates", &order("GOLD_SSL", &csr)).await;
    let absent = sim.post("/certificates", &missing).await;
    let smime = sim.post("/certificates", &order("SMIME_ENT", &csr)).await;

    assert_error(&unknown, StatusCode::BAD_REQUEST, Some("certType"));
    assert_error(&absent, StatusCode::BAD_REQUEST, Some("certType"));
    assert_error(&smime, StatusCode::BAD_REQUEST, Some("certType"));
}

#[tokio::test]
async fn missing_or_broken_csr_is_400() {
    let sim = TestSim::start().await;
    let mut missing = order("STANDARD_SSL", "");
    missing.as_object_mut().unwrap().remove("csr");

    let absent = sim.post("/certificates", &missing).await;
    let garbage = sim
        .post("/certificates", &order("STANDARD_SSL", "not a csr"))
        .await;

    assert_error(&absent, StatusCode::BAD_REQUEST, Some("csr"));
    assert_error(&garbage, StatusCode::BAD_REQUEST, Some("csr"));
}

#[tokio::test]
async fn bare_base64_csr_is_accepted() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("bare.example.com", &[]);
    let bare: String = csr
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();

    let reply = sim
        .post("/certificates", &order("STANDARD_SSL", &bare))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn unusable_domains_are_rejected() {
    let sim = TestSim::start().await;

    for name in [
        "app.new-product.test",
        "app.lapsed.test",
        "app.rejected.test",
        "nowhere.invalid",
    ] {
        let (csr, _) = ec_csr(name, &[]);

        let reply = sim
            .post("/certificates", &order("ADVANTAGE_SSL", &csr))
            .await;

        let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("csr"));
        assert!(message.contains(name), "{message}");
    }
}

#[tokio::test]
async fn request_san_on_declined_domain() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("app.example.com", &[]);
    let mut body = order("ADVANTAGE_SSL", &csr);
    body["subjectAltName"] = json!(["app.example.com", "app.rejected.test"]);

    let reply = sim.post("/certificates", &body).await;

    let message = assert_error(&reply, StatusCode::BAD_REQUEST, Some("subjectAltName"));
    assert!(message.contains("DECLINED"), "{message}");
}

#[tokio::test]
async fn reverification_and_expiring_domains_are_usable() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("www.example.net", &["www.example.net", "www.example.org"]);

    let reply = sim
        .post("/certificates", &order("ADVANTAGE_SSL", &csr))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn request_san_replaces_csr_san() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr(
        "one.example.com",
        &["one.example.com", "ignored.example.com"],
    );
    let mut body = order("ADVANTAGE_SSL", &csr);
    body["subjectAltName"] = json!(["one.example.com", "two.example.com"]);

    sim.post("/certificates", &body).await;
    let detail = sim.get(&format!("/certificates/{NEXT_ID}")).await;

    assert_eq!(
        detail.body["subjectAltName"],
        json!([
            {"type": "dNSName", "value": "one.example.com"},
            {"type": "dNSName", "value": "two.example.com"},
        ])
    );
}

#[tokio::test]
async fn standard_ssl_allows_only_the_www_pair() {
    let sim = TestSim::start().await;
    let (good_csr, _) = ec_csr("example.com", &["example.com", "www.example.com"]);
    let (bad_csr, _) = ec_csr("www.example.com", &["www.example.com", "api.example.com"]);

    let good = sim
        .post("/certificates", &order("STANDARD_SSL", &good_csr))
        .await;
    let bad = sim
        .post("/certificates", &order("STANDARD_SSL", &bad_csr))
        .await;

    assert_eq!(good.status, StatusCode::CREATED, "{}", good.text);
    assert_error(&bad, StatusCode::BAD_REQUEST, Some("subjectAltName"));
}

#[tokio::test]
async fn organization_rules() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("org.example.com", &[]);
    let (canon_csr, _) = ec_csr("shop.canon-city.test", &[]);

    let mut pending_org = order("STANDARD_SSL", &csr);
    pending_org["org"] = json!("Certitude Demo Labs");
    let mut unknown_org = order("STANDARD_SSL", &csr);
    unknown_org["org"] = json!("Nobody Ltd");
    let mut other_client_with_org = order("STANDARD_SSL", &canon_csr);
    other_client_with_org["clientId"] = json!(2);
    other_client_with_org["org"] = json!("Cañon City, Inc.");
    let mut other_client = order("STANDARD_SSL", &canon_csr);
    other_client["clientId"] = json!(2);
    let mut unapproved_client = order("STANDARD_SSL", &csr);
    unapproved_client["clientId"] = json!(3);

    let pending = sim.post("/certificates", &pending_org).await;
    let unknown = sim.post("/certificates", &unknown_org).await;
    let with_org = sim.post("/certificates", &other_client_with_org).await;
    let client_two = sim.post("/certificates", &other_client).await;
    let client_three = sim.post("/certificates", &unapproved_client).await;
    let missing_client = {
        let mut body = order("STANDARD_SSL", &csr);
        body["clientId"] = json!(42);
        sim.post("/certificates", &body).await
    };

    let message = assert_error(&pending, StatusCode::BAD_REQUEST, Some("org"));
    assert!(message.contains("PENDING"), "{message}");
    assert_error(&unknown, StatusCode::BAD_REQUEST, Some("org"));
    assert_error(&with_org, StatusCode::BAD_REQUEST, Some("org"));
    assert_eq!(
        client_two.status,
        StatusCode::CREATED,
        "{}",
        client_two.text
    );
    assert_error(&client_three, StatusCode::BAD_REQUEST, Some("clientId"));
    assert_error(&missing_client, StatusCode::BAD_REQUEST, Some("clientId"));
    let detail = sim
        .get(&format!("/certificates/{}", client_two.body["trackingId"]))
        .await;
    assert_eq!(detail.body["org"], "Cañon City, Inc.");
}

#[tokio::test]
async fn expiry_rules() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("exp.example.com", &[]);
    let post = |mutate: fn(&mut Value)| {
        let mut body = order("STANDARD_SSL", &csr);
        mutate(&mut body);
        let sim = &sim;
        async move { sim.post("/certificates", &body).await }
    };

    let too_late = post(|body| body["certExpiryDate"] = json!("2027-06-01")).await;
    let past = post(|body| body["certExpiryDate"] = json!("2026-03-01")).await;
    let garbage = post(|body| body["certExpiryDate"] = json!("next year")).await;
    let two_years = post(|body| {
        body.as_object_mut().unwrap().remove("certExpiryDate");
        body["certLifetime"] = json!("P2Y");
    })
    .await;
    let date_time = post(|body| body["certExpiryDate"] = json!("2026-12-01T03:00:00.00Z")).await;
    let lifetime = post(|body| {
        body.as_object_mut().unwrap().remove("certExpiryDate");
        body["certLifetime"] = json!("P1Y");
    })
    .await;

    assert_error(&too_late, StatusCode::BAD_REQUEST, Some("certExpiryDate"));
    assert_error(&past, StatusCode::BAD_REQUEST, Some("certExpiryDate"));
    assert_error(&garbage, StatusCode::BAD_REQUEST, Some("certExpiryDate"));
    assert_error(&two_years, StatusCode::BAD_REQUEST, Some("certLifetime"));
    // 03:00 UTC on December 1 is 22:00 EST on November 30.
    assert_eq!(date_time.body["expiresAfter"], "2026-11-30T23:59:59Z");
    assert_eq!(lifetime.body["expiresAfter"], "2027-03-10T23:59:59Z");
}

#[tokio::test]
async fn wrongly_typed_fields_are_reported_together() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("t.example.com", &[]);
    let mut body = order("STANDARD_SSL", &csr);
    body["validateOnly"] = json!("maybe");
    body["eku"] = json!("EVERYTHING");
    body["ou"] = json!(["A", "B"]);

    let reply = sim.post("/certificates", &body).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["validateOnly", "eku"]);
}

#[tokio::test]
async fn more_than_one_ou_is_400() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("ou.example.com", &[]);
    let mut body = order("STANDARD_SSL", &csr);
    body["ou"] = json!(["Web", "Mail"]);

    let reply = sim.post("/certificates", &body).await;

    assert_error(&reply, StatusCode::BAD_REQUEST, Some("ou"));
}

#[tokio::test]
async fn untyped_body_with_extra_fields_accepted() {
    let sim = TestSim::start().await;
    let (csr, _) = ec_csr("go.example.com", &[]);
    let mut body = order("STANDARD_SSL", &csr);
    body["tracking"]["deactivated"] = json!(false);
    body["password"] = json!("");
    body["ou"] = json!([]);
    body["eku"] = json!("");
    body["ctLog"] = json!("false");
    body["endUserKeyStorageAgreement"] = json!(true);
    body["futureField"] = json!({"nested": [1, 2]});

    let reply = sim.post_raw("/certificates", &body.to_string()).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn malformed_json_is_400_error_response() {
    let sim = TestSim::start().await;

    let broken = sim.post_raw("/certificates", "{\"certType\": ").await;
    let array = sim.post_raw("/certificates", "[]").await;

    assert_error(&broken, StatusCode::BAD_REQUEST, None);
    assert_error(&array, StatusCode::BAD_REQUEST, None);
}
