//! One domain: `GET /clients/{clientId}/domains/{domain}` (DomainEx), adding a domain and
//! re-verifying one, with verification values that change on every re-verify and appear
//! after the account's delay.

use entrust_sim::Scenario;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{TestSim, assert_error, ec_csr, keys, reply};

fn dns_value(body: &Value) -> String {
    body["dnsMethod"]["recordValue"]
        .as_str()
        .unwrap_or_else(|| panic!("no dnsMethod in {body}"))
        .to_owned()
}

#[tokio::test]
async fn approved_domain_has_no_verification_values() {
    let sim = TestSim::start().await;

    let reply = sim.get("/clients/1/domains/example.com").await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        keys(&reply.body),
        vec![
            "clientId",
            "domainName",
            "evEligible",
            "evExpiry",
            "ovEligible",
            "ovExpiry",
            "verificationMethod",
            "verificationStatus"
        ]
    );
    assert_eq!(reply.body["verificationStatus"], "APPROVED");
}

#[tokio::test]
async fn domain_in_verification_shows_its_method_values() {
    let sim = TestSim::start().await;

    let dns = sim.get("/clients/1/domains/new-product.test").await.body;
    let email = sim.get("/clients/1/domains/example.net").await.body;

    assert_eq!(dns["verificationStatus"], "INITIAL_VERIFICATION");
    assert_eq!(
        dns["dnsMethod"]["recordDomain"],
        "_pki-validation.new-product.test"
    );
    assert_eq!(dns["dnsMethod"]["recordType"], "TXT");
    let value = dns_value(&dns);
    assert_eq!(value.len(), 32);
    assert!(value.chars().all(|c| c.is_ascii_hexdigit()), "{value}");
    assert_eq!(email["verificationStatus"], "RE_VERIFICATION");
    assert_eq!(
        email["emailMethod"],
        json!([
            "admin@example.net",
            "administrator@example.net",
            "webmaster@example.net",
            "hostmaster@example.net",
            "postmaster@example.net"
        ])
    );
}

#[tokio::test]
async fn trailing_space_and_case_in_path_are_ignored() {
    let sim = TestSim::start().await;

    let spaced = sim.get("/clients/1/domains/example.com%20").await;
    let upper = sim.get("/clients/1/domains/EXAMPLE.com").await;

    assert_eq!(spaced.status, StatusCode::OK, "{}", spaced.text);
    assert_eq!(spaced.body["domainName"], "example.com");
    assert_eq!(upper.body, spaced.body);
}

#[tokio::test]
async fn unknown_domain_or_client_is_404() {
    let sim = TestSim::start().await;

    for path in [
        "/clients/1/domains/unknown.test",
        "/clients/1/domains/canon-city.test",
        "/clients/9/domains/example.com",
    ] {
        let reply = sim.get(path).await;

        assert_error(&reply, StatusCode::NOT_FOUND, None);
    }
    let malformed = sim.get("/clients/one/domains/example.com").await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, Some("clientId"));
}

#[tokio::test]
async fn added_domain_starts_in_initial_verification() {
    let sim = TestSim::start().await;

    let reply = sim
        .post(
            "/clients/1/domains",
            &json!({"domainName": "Fresh.test", "verificationMethod": "dns"}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.headers["location"], "/clients/1/domains/fresh.test");
    assert_eq!(
        reply.headers["retry-after"],
        "Tue, 10 Mar 2026 15:00:00 GMT"
    );
    let domain = sim.get("/clients/1/domains/fresh.test").await.body;
    assert_eq!(domain["verificationStatus"], "INITIAL_VERIFICATION");
    assert_eq!(domain["verificationMethod"], "DNS");
    assert_eq!(domain["ovEligible"], false);
    assert!(domain.get("ovExpiry").is_none());
    assert_eq!(dns_value(&domain).len(), 32);
    let list = sim.get("/clients/1/domains?domainName=fresh.test").await;
    assert_eq!(list.body["summary"]["total"], 1);

    let (csr, _) = ec_csr("www.fresh.test", &[]);
    let order = sim
        .post(
            "/certificates",
            &json!({"certType": "STANDARD_SSL", "csr": csr, "certLifetime": "P1Y"}),
        )
        .await;
    let message = assert_error(&order, StatusCode::BAD_REQUEST, Some("csr"));
    assert!(message.contains("INITIAL_VERIFICATION"), "{message}");
}

#[tokio::test]
async fn add_domain_rejects_bad_requests() {
    let sim = TestSim::start().await;
    let cases = [
        (json!({"verificationMethod": "DNS"}), "domainName"),
        (
            json!({"domainName": "*.wild.test", "verificationMethod": "DNS"}),
            "domainName",
        ),
        (
            json!({"domainName": "bad_name.test", "verificationMethod": "DNS"}),
            "domainName",
        ),
        (
            json!({"domainName": "example.com", "verificationMethod": "DNS"}),
            "domainName",
        ),
        (json!({"domainName": "other.test"}), "verificationMethod"),
        (
            json!({"domainName": "other.test", "verificationMethod": "CARRIER_PIGEON"}),
            "verificationMethod",
        ),
        (
            json!({"domainName": "other.test", "verificationMethod": "EMAIL",
                   "emailMethod": {"emailSource": "SPECIFIED", "email": "boss@other.test"}}),
            "emailMethod.email",
        ),
    ];

    for (body, field) in cases {
        let reply = sim.post("/clients/1/domains", &body).await;

        assert_error(&reply, StatusCode::BAD_REQUEST, Some(field));
    }
    let unknown_client = sim
        .post(
            "/clients/9/domains",
            &json!({"domainName": "other.test", "verificationMethod": "DNS"}),
        )
        .await;
    assert_error(&unknown_client, StatusCode::NOT_FOUND, None);
    let list = sim.get("/clients/1/domains").await;
    assert_eq!(list.body["summary"]["total"], 6);
}

#[tokio::test]
async fn specified_email_may_use_a_parent_domain() {
    let sim = TestSim::start().await;

    let reply = sim
        .post(
            "/clients/2/domains",
            &json!({"domainName": "shop.canon-city.test", "verificationMethod": "EMAIL",
                    "emailMethod": {"emailSource": "SPECIFIED", "email": "Hostmaster@canon-city.test"}}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let domain = sim
        .get("/clients/2/domains/shop.canon-city.test")
        .await
        .body;
    assert_eq!(domain["emailMethod"], json!(["hostmaster@canon-city.test"]));
}

#[tokio::test]
async fn reverified_approved_domain_stays_usable() {
    let sim = TestSim::start().await;

    let first = sim
        .put(
            "/clients/1/domains/example.com",
            &json!({"verificationMethod": "DNS"}),
        )
        .await;
    let first_value = dns_value(&sim.get("/clients/1/domains/example.com").await.body);
    let second = sim
        .put(
            "/clients/1/domains/example.com",
            &json!({"verificationMethod": "DNS"}),
        )
        .await;
    let domain = sim.get("/clients/1/domains/example.com").await.body;

    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    assert_eq!(second.status, StatusCode::ACCEPTED, "{}", second.text);
    assert_eq!(first.headers["location"], "/clients/1/domains/example.com");
    assert_eq!(domain["verificationStatus"], "RE_VERIFICATION");
    assert_ne!(dns_value(&domain), first_value);

    let (csr, _) = ec_csr("www2.example.com", &[]);
    let order = sim
        .post(
            "/certificates",
            &json!({"certType": "STANDARD_SSL", "csr": csr, "certLifetime": "P1Y"}),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.text);
}

#[tokio::test]
async fn reverify_can_change_method_and_restart_lapsed_domain() {
    let sim = TestSim::start().await;

    let reply = sim
        .put(
            "/clients/1/domains/lapsed.test",
            &json!({"verificationMethod": "WEB_SERVER"}),
        )
        .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let domain = sim.get("/clients/1/domains/lapsed.test").await.body;
    assert_eq!(domain["verificationStatus"], "INITIAL_VERIFICATION");
    assert_eq!(domain["verificationMethod"], "WEB_SERVER");
    let location = domain["webServerMethod"]["fileLocation"].as_str().unwrap();
    assert!(
        location.starts_with("http://lapsed.test/.well-known/pki-validation/"),
        "{location}"
    );
    assert!(location.ends_with(".txt"), "{location}");
    assert_eq!(
        domain["webServerMethod"]["fileContents"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
}

#[tokio::test]
async fn go_client_style_reverify_succeeds() {
    let sim = TestSim::start().await;
    let request = sim
        .http
        .put(sim.url("/clients/1/domains/example.org%20"))
        .basic_auth("demo-admin", Some("sim-demo-admin-key"))
        .body(r#"{"verificationMethod":"DNS"}"#);

    let reply = reply(request).await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let domain = sim.get("/clients/1/domains/example.org").await.body;
    assert_eq!(domain["verificationStatus"], "RE_VERIFICATION");
    assert_eq!(domain["verificationMethod"], "DNS");
}

#[tokio::test]
async fn new_values_appear_after_the_delay() {
    let mut scenario = Scenario::demo();
    scenario.account.domain_values_delay_seconds = 5;
    let sim = TestSim::start_with(scenario).await;
    let path = "/clients/1/domains/example.com";

    let added = sim
        .post(
            "/clients/1/domains",
            &json!({"domainName": "later.test", "verificationMethod": "DNS"}),
        )
        .await;
    let before_delay = sim.get("/clients/1/domains/later.test").await.body;
    sim.put(path, &json!({"verificationMethod": "DNS"})).await;
    sim.clock.advance(Duration::seconds(5));
    let after_delay = sim.get("/clients/1/domains/later.test").await.body;
    let first_value = dns_value(&sim.get(path).await.body);
    sim.put(path, &json!({"verificationMethod": "DNS"})).await;
    let still_old = dns_value(&sim.get(path).await.body);
    sim.clock.advance(Duration::seconds(5));
    let new_value = dns_value(&sim.get(path).await.body);

    assert_eq!(
        added.headers["retry-after"],
        "Tue, 10 Mar 2026 15:00:05 GMT"
    );
    assert!(before_delay.get("dnsMethod").is_none(), "{before_delay}");
    assert_eq!(dns_value(&after_delay).len(), 32);
    assert_eq!(
        still_old, first_value,
        "previous values stay until the delay"
    );
    assert_ne!(new_value, first_value);
}
