//! New orders the simulator accepts or rejects: domain and organization states, inventory,
//! products, validation only, and the wire forms of booleans and dates. Each rejection is
//! checked by status, message, field, and an unchanged inventory and order count.

use entrust::Error;
use entrust::model::{NewOrder, OrderOutcome, Product};
use serde_json::json;

use crate::helpers::generate_csr;
use crate::sim::{Sim, remaining, standard_order};

/// What a rejected order must leave untouched.
struct Untouched {
    inventory: Vec<Product>,
    orders: usize,
}

async fn snapshot(sim: &Sim) -> anyhow::Result<Untouched> {
    Ok(Untouched {
        inventory: sim.inventory().await?,
        orders: sim.order_count().await?,
    })
}

async fn assert_untouched(sim: &Sim, before: &Untouched, case: &str) -> anyhow::Result<()> {
    assert_eq!(
        sim.inventory().await?,
        before.inventory,
        "{case}: inventory changed"
    );
    assert_eq!(
        sim.order_count().await?,
        before.orders,
        "{case}: an order was created"
    );
    Ok(())
}

/// Asserts a 400 whose first message names `field` and contains `text`.
fn assert_rejected(result: Result<OrderOutcome, Error>, field: &str, text: &str, case: &str) {
    let error = match result {
        Ok(outcome) => panic!("{case}: expected a rejection, got {outcome:?}"),
        Err(error) => error,
    };
    assert_eq!(error.http_status(), Some(400), "{case}: {error:?}");
    let Error::InvalidRequest { messages, .. } = &error else {
        panic!("{case}: expected InvalidRequest, got {error:?}");
    };
    let first = &messages.as_slice()[0];
    assert_eq!(first.field.as_deref(), Some(field), "{case}: {error}");
    assert!(first.message.contains(text), "{case}: {}", first.message);
}

async fn order_for(names: &[&str], marker: &str) -> anyhow::Result<NewOrder> {
    let csr = generate_csr(names)?;
    Ok(standard_order(&csr, names, marker))
}

#[tokio::test]
async fn unverified_domains_reject_the_order() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let before = snapshot(&sim).await?;

    for (domain, status) in [
        ("new-product.test", "INITIAL_VERIFICATION"),
        ("rejected.test", "DECLINED"),
        ("lapsed.test", "EXPIRED"),
    ] {
        let name = format!("www.{domain}");
        let csr = generate_csr(&["www.example.com"])?;
        let order = standard_order(&csr, &["www.example.com", &name], "unverified");

        let result = sim.admin.place_order(&order).await;

        assert_rejected(result, "subjectAltName", domain, status);
    }
    assert_untouched(&sim, &before, "unverified domains").await?;
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn re_verification_and_expiring_domains_stay_usable() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let before = sim.inventory().await?;

    for name in ["www.example.net", "www.example.org"] {
        let order = order_for(&[name], "still-usable").await?;

        let outcome = sim.admin.place_order(&order).await?;

        assert!(
            matches!(outcome, OrderOutcome::Issued(_)),
            "{name}: {outcome:?}"
        );
    }
    assert_eq!(
        remaining(&sim.inventory().await?, "STANDARD_SSL"),
        remaining(&before, "STANDARD_SSL").map(|n| n - 2)
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unusable_organizations_reject_the_order() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let before = snapshot(&sim).await?;

    let cases = [
        (
            1,
            "Certitude Demo Labs",
            "is not approved (verificationStatus PENDING)",
        ),
        (
            1,
            "Certitude Legacy Brands",
            "is not approved (verificationStatus EXPIRED)",
        ),
        (1, "Acme Widgets Ltd", "is not an organization of client 1"),
        (
            2,
            "Cañon City, Inc.",
            "org may only be given with clientId 1",
        ),
    ];
    for (client_id, organization, text) in cases {
        let names: &[&str] = if client_id == 1 {
            &["www.example.com"]
        } else {
            &["www.canon-city.test"]
        };
        let mut order = order_for(names, "bad-org").await?;
        order.client_id = Some(client_id);
        order.organization = Some(organization.to_owned());

        let result = sim.admin.place_order(&order).await;

        assert_rejected(result, "org", text, organization);
    }
    assert_untouched(&sim, &before, "organizations").await?;
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn exhausted_and_unknown_products_reject_the_order() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let before = snapshot(&sim).await?;

    let mut exhausted = order_for(&["www.example.com"], "exhausted").await?;
    exhausted.product = "PD_SSL".to_owned();
    let mut unknown = order_for(&["www.example.com"], "unknown-product").await?;
    unknown.product = "GOLD_PLATED_SSL".to_owned();

    assert_rejected(
        sim.admin.place_order(&exhausted).await,
        "certType",
        "No PD_SSL inventory remains",
        "exhausted",
    );
    assert_rejected(
        sim.admin.place_order(&unknown).await,
        "certType",
        "is not a known certificate type",
        "unknown",
    );
    assert_untouched(&sim, &before, "products").await?;
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn validate_only_reports_problems_without_effect() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let before = snapshot(&sim).await?;
    let mut valid = order_for(&["check.example.com"], "validate-valid").await?;
    valid.validate_only = true;
    let csr = generate_csr(&["www.example.com"])?;
    let mut invalid = standard_order(
        &csr,
        &["www.example.com", "www.rejected.test"],
        "validate-invalid",
    );
    invalid.validate_only = true;

    let accepted = sim.admin.place_order(&valid).await?;
    let rejected = sim.admin.place_order(&invalid).await;

    assert_eq!(accepted, OrderOutcome::Validated);
    assert_rejected(rejected, "subjectAltName", "rejected.test", "validate only");
    assert_untouched(&sim, &before, "validate only").await?;
    let statuses: Vec<u16> = sim
        .server
        .request_log()
        .iter()
        .filter(|entry| entry.method == "POST")
        .map(|entry| entry.status)
        .collect();
    assert_eq!(statuses, vec![200, 400]);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn booleans_sent_as_strings_are_accepted() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["strings.example.com"])?;
    let body = |validate: &str, queue: &str| {
        json!({
            "certType": "STANDARD_SSL",
            "csr": csr.csr_pem,
            "subjectAltName": ["strings.example.com"],
            "validateOnly": validate,
            "queueForApproval": queue,
            "ctLog": "true",
            "tracking": {"requesterName": "Ansible", "requesterEmail": "a@example.com", "requesterPhone": "1"}
        })
    };

    let validated = sim
        .raw("POST", "/certificates", Some(&body("true", "false")))
        .await?;
    let queued = sim
        .raw("POST", "/certificates", Some(&body("false", "true")))
        .await?;
    let not_boolean = sim
        .raw("POST", "/certificates", Some(&body("yes", "false")))
        .await?;

    assert_eq!(validated.status, 200, "{:?}", validated.body);
    assert_eq!(queued.status, 202, "{:?}", queued.body);
    assert!(queued.body["trackingId"].is_u64());
    assert_eq!(not_boolean.status, 400);
    assert_eq!(not_boolean.first_error().1.as_deref(), Some("validateOnly"));
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn adapter_sends_expiry_as_date() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["expiry.example.com"])?;
    let raw_body = |expiry: &str| {
        json!({
            "certType": "STANDARD_SSL",
            "csr": csr.csr_pem,
            "subjectAltName": ["expiry.example.com"],
            "certExpiryDate": expiry
        })
    };

    let date_only = sim
        .raw("POST", "/certificates", Some(&raw_body("2026-06-01")))
        .await?;
    // 02:00 UTC on 1 June is 22:00 on 31 May in US Eastern time, the day ECS keeps.
    let date_time = sim
        .raw(
            "POST",
            "/certificates",
            Some(&raw_body("2026-06-01T02:00:00Z")),
        )
        .await?;
    let mut order = standard_order(&csr, &["expiry.example.com"], "date-only");
    order.expires_on = time::macros::date!(2026 - 06 - 01);
    let adapter = sim.admin.place_order(&order).await?;

    assert_eq!(date_only.status, 201);
    assert!(
        date_only.body["expiresAfter"]
            .as_str()
            .is_some_and(|at| at.starts_with("2026-06-01")),
        "{}",
        date_only.body
    );
    assert_eq!(date_time.status, 201);
    assert!(
        date_time.body["expiresAfter"]
            .as_str()
            .is_some_and(|at| at.starts_with("2026-05-31")),
        "{}",
        date_time.body
    );
    let OrderOutcome::Issued(issued) = adapter else {
        panic!("expected an issued certificate, got {adapter:?}");
    };
    assert_eq!(
        issued.expires_at.map(|t| t.date()),
        Some(time::macros::date!(2026 - 06 - 01))
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unicode_client_organization_is_kept() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let mut order = order_for(&["shop.canon-city.test"], "unicode-org").await?;
    order.client_id = Some(2);
    order.organization = None;

    let outcome = sim.admin.place_order(&order).await?;

    let OrderOutcome::Issued(issued) = outcome else {
        panic!("expected an issued certificate, got {outcome:?}");
    };
    let detail = sim.admin.order(issued.tracking_id).await?;
    assert_eq!(detail.organization.as_deref(), Some("Cañon City, Inc."));
    assert!(
        detail
            .subject_dn
            .as_deref()
            .is_some_and(|dn| dn.contains("Cañon City")),
        "{:?}",
        detail.subject_dn
    );
    let organizations = sim.admin.client_organizations(2).await?;
    assert_eq!(organizations.len(), 1);
    assert_eq!(organizations[0].name, "Cañon City, Inc.");
    assert_eq!(organizations[0].client_id, Some(2));
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn malformed_request_bodies_are_rejected() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let before = snapshot(&sim).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/certificates", sim.server.base_url());

    let mut responses = Vec::new();
    for body in ["", "{not json", "[1, 2]", "{\"certType\": 5}"] {
        let response = http
            .post(&url)
            .basic_auth(crate::sim::ADMIN_USER, Some(crate::sim::ADMIN_KEY))
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let parsed: serde_json::Value = response.json().await?;
        responses.push((body, status, parsed));
    }

    for (body, status, parsed) in responses {
        assert_eq!(status, 400, "{body:?}: {parsed}");
        assert_eq!(parsed["status"], 400, "{body:?}: {parsed}");
        assert!(
            parsed["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body:?}: {parsed}"
        );
    }
    assert_untouched(&sim, &before, "malformed bodies").await?;
    sim.stop().await;
    Ok(())
}
