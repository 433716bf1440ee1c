//! Placing orders against the simulator: issued at once, queued for approval, validated only,
//! and rejected.

use entrust::Error;
use entrust::model::{
    NewOrder, OrderOutcome, OrderQuery, OrderStatus, Requester, SerialNumber, TrackingId,
};
use x509_parser::pem::parse_x509_pem;

use crate::helpers::{GeneratedCsr, assert_no_secret, generate_csr};
use crate::sim::{ADMIN_KEY, ADMIN_USER, REQUESTER_KEY, REQUESTER_USER, Sim};

fn new_order(csr: &GeneratedCsr, names: &[&str], marker: &str) -> NewOrder {
    NewOrder {
        product: "STANDARD_SSL".to_owned(),
        csr_pem: csr.csr_pem.clone(),
        dns_names: names.iter().map(|name| (*name).to_owned()).collect(),
        client_id: Some(1),
        organization: Some("Certitude Demo Corp".to_owned()),
        expires_on: Sim::expiry(),
        lifetime: None,
        eku: None,
        tracking_marker: Some(marker.to_owned()),
        requester: Requester {
            name: "Test Requester".to_owned(),
            email: "requester@example.com".to_owned(),
            phone: "+1 613 555 0199".to_owned(),
        },
        queue_for_approval: false,
        validate_only: false,
    }
}

/// Extracts the certificate's SubjectPublicKeyInfo in DER.
fn public_key_of(certificate_pem: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = parse_x509_pem(certificate_pem.as_bytes())?;
    let certificate = pem.parse_x509()?;
    Ok(certificate.public_key().raw.to_vec())
}

async fn remaining(sim: &Sim, product: &str) -> anyhow::Result<Option<u64>> {
    let products = sim.admin.products().await?;
    Ok(products
        .into_iter()
        .find(|p| p.product_type == product)
        .and_then(|p| p.remaining))
}

#[tokio::test]
async fn issued_order_matches_csr_key() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["app.example.com"])?;
    let before = remaining(&sim, "STANDARD_SSL").await?;

    let outcome = sim
        .admin
        .place_order(&new_order(&csr, &["app.example.com"], "issued-now"))
        .await?;

    let OrderOutcome::Issued(issued) = outcome else {
        panic!("expected an issued certificate, got {outcome:?}");
    };
    assert_eq!(public_key_of(&issued.certificate_pem)?, csr.public_key_der);
    assert_eq!(issued.chain_pem.first(), Some(&issued.certificate_pem));
    assert_eq!(
        issued.chain_pem.get(1).map(|pem| pem.trim()),
        Some(sim.server.intermediate_ca_pem().trim())
    );
    let (_, leaf) = parse_x509_pem(issued.certificate_pem.as_bytes())?;
    let leaf = leaf.parse_x509()?;
    assert_eq!(
        issued.serial_number,
        Some(SerialNumber::from_be_bytes(leaf.raw_serial()))
    );
    assert_eq!(
        issued.expires_at.map(|t| t.date()),
        Some(Sim::expiry()),
        "expiry follows certExpiryDate"
    );
    assert_eq!(
        remaining(&sim, "STANDARD_SSL").await?,
        before.map(|n| n - 1)
    );

    let stored = sim.admin.order(issued.tracking_id).await?;
    assert_eq!(stored.status, OrderStatus::Active);
    assert_eq!(
        stored.certificate_pem.as_ref(),
        Some(&issued.certificate_pem)
    );
    assert_eq!(stored.tracking_marker.as_deref(), Some("issued-now"));
    assert_eq!(stored.dns_names, vec!["app.example.com"]);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn queued_order_is_pending_until_approved() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let requester = sim.client(REQUESTER_USER, REQUESTER_KEY)?;
    let csr = generate_csr(&["queued-app.example.com"])?;
    let mut order = new_order(&csr, &["queued-app.example.com"], "queued-for-approval");
    order.queue_for_approval = true;

    let outcome = requester.place_order(&order).await?;

    let OrderOutcome::Pending { tracking_id } = outcome else {
        panic!("expected a pending order, got {outcome:?}");
    };
    let waiting = requester.order(tracking_id).await?;
    assert_eq!(waiting.status, OrderStatus::Pending);
    assert_eq!(waiting.certificate_pem, None);

    let approve_url = format!(
        "{}/certificates/{tracking_id}/approve",
        sim.server.control_url()
    );
    let response = reqwest::Client::new().post(approve_url).send().await?;
    assert!(response.status().is_success(), "{}", response.status());

    let approved = requester.order(tracking_id).await?;
    assert_eq!(approved.status, OrderStatus::Active);
    let Some(certificate_pem) = approved.certificate_pem.as_deref() else {
        panic!("an approved order must carry its certificate");
    };
    assert_eq!(public_key_of(certificate_pem)?, csr.public_key_der);
    assert_eq!(
        approved.chain_pem.first().map(String::as_str),
        Some(certificate_pem)
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn validate_only_order_consumes_nothing() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["check.example.com"])?;
    let mut order = new_order(&csr, &["check.example.com"], "validate-only");
    order.validate_only = true;
    let inventory_before = sim.admin.products().await?;

    let outcome = sim.admin.place_order(&order).await?;

    assert_eq!(outcome, OrderOutcome::Validated);
    assert_eq!(sim.admin.products().await?, inventory_before);
    let orders = sim.admin.all_orders(OrderQuery::default()).await?;
    assert_eq!(orders.len(), sim.listed_count());
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn order_for_unverified_domain_names_the_field() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["www.example.com"])?;
    let names = ["www.example.com", "www.new-product.test"];

    let error = sim
        .admin
        .place_order(&new_order(&csr, &names, "unverified"))
        .await
        .err();

    let Some(Error::InvalidRequest { messages, .. }) = &error else {
        panic!("expected an invalid request, got {error:?}");
    };
    assert!(
        messages.mentions_field("subjectAltName"),
        "no message names subjectAltName: {messages:?}"
    );
    assert!(
        messages
            .as_slice()
            .iter()
            .any(|m| m.message.contains("new-product.test")),
        "{messages:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn order_with_unknown_product_is_invalid() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["www.example.com"])?;
    let mut order = new_order(&csr, &["www.example.com"], "unknown-product");
    order.product = "GOLD_PLATED_SSL".to_owned();

    let error = sim.admin.place_order(&order).await.err();

    assert!(
        matches!(&error, Some(Error::InvalidRequest { messages, .. }) if messages.mentions_field("certType")),
        "{error:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn issued_order_is_found_by_its_marker() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["marker.example.com"])?;
    let marker = "certitude:order:0195f3c2";

    let outcome = sim
        .admin
        .place_order(&new_order(&csr, &["marker.example.com"], marker))
        .await?;
    let found = sim
        .admin
        .all_orders(OrderQuery {
            tracking_marker: Some(marker.to_owned()),
            ..OrderQuery::default()
        })
        .await?;

    let OrderOutcome::Issued(issued) = outcome else {
        panic!("expected an issued certificate, got {outcome:?}");
    };
    let ids: Vec<TrackingId> = found.iter().map(|o| o.tracking_id).collect();
    assert_eq!(ids, vec![issued.tracking_id]);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn request_log_holds_no_credentials() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["logged.example.com"])?;
    sim.admin.version().await?;
    sim.admin.all_orders(OrderQuery::default()).await?;
    sim.admin
        .place_order(&new_order(&csr, &["logged.example.com"], "logged"))
        .await?;
    let _ = sim.client(ADMIN_USER, "wrong-key")?.version().await;

    let log = sim.server.request_log();
    let over_http = reqwest::get(format!("{}/requests", sim.server.control_url()))
        .await?
        .text()
        .await?;

    assert!(log.len() >= 4, "{log:?}");
    assert!(log.iter().any(|entry| entry.status == 401));
    assert!(
        log.iter()
            .all(|entry| entry.user_name.as_deref() == Some(ADMIN_USER))
    );
    let rendered = format!("{log:?}");
    assert_no_secret(&rendered, ADMIN_USER, ADMIN_KEY, "request log");
    assert_no_secret(&over_http, ADMIN_USER, ADMIN_KEY, "request log over HTTP");
    assert_no_secret(&rendered, ADMIN_USER, "wrong-key", "request log");
    sim.stop().await;
    Ok(())
}
