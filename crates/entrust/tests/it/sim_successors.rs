//! Reissues and renewals at the simulator: new tracking ids, what is kept and what changes,
//! and the requests ECS rejects.

use entrust::Error;
use entrust::model::{OrderOutcome, OrderStatus, Reissue, Renewal, TrackingId};
use serde_json::json;
use x509_parser::pem::parse_x509_pem;

use crate::helpers::generate_csr;
use crate::sim::{Sim, remaining};

/// ACTIVE demo orders: index 0 issued 100 days ago, 4 issued 200 days ago, 3 (EV) 10 days
/// ago; 9 is REVOKED.
const ACTIVE: u32 = 0;
const RENEWABLE: u32 = 4;
const RECENT: u32 = 3;
const REVOKED: u32 = 9;

fn public_key_of(certificate_pem: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = parse_x509_pem(certificate_pem.as_bytes())?;
    let certificate = pem.parse_x509()?;
    Ok(certificate.public_key().raw.to_vec())
}

fn message_of(error: &Error) -> String {
    error
        .api_messages()
        .iter()
        .map(|message| message.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn reissue_keeps_expiry_under_new_id() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let original_id = Sim::tracking_id(ACTIVE);
    let original = sim.admin.order(original_id).await?;
    let csr = generate_csr(&["www.example.com", "example.com"])?;
    let before = sim.inventory().await?;

    let outcome = sim
        .admin
        .reissue(
            original_id,
            &Reissue {
                csr_pem: Some(csr.csr_pem.clone()),
                tracking_marker: Some("reissue-web-frontend".to_owned()),
                ..Reissue::default()
            },
        )
        .await?;

    let OrderOutcome::Issued(issued) = outcome else {
        panic!("a reissue is issued at once, got {outcome:?}");
    };
    assert_ne!(issued.tracking_id, original_id);
    assert_ne!(issued.serial_number, original.serial_number);
    assert_eq!(
        issued.expires_at.map(|t| t.date()),
        original.expires_at.map(|t| t.date())
    );
    assert_eq!(public_key_of(&issued.certificate_pem)?, csr.public_key_der);
    let successor = sim.admin.order(issued.tracking_id).await?;
    assert_eq!(successor.status, OrderStatus::Active);
    assert_eq!(
        successor.tracking_marker.as_deref(),
        Some("reissue-web-frontend")
    );
    assert_eq!(
        sim.admin.order(original_id).await?.status,
        OrderStatus::Reissued
    );
    assert_eq!(
        sim.inventory().await?,
        before,
        "a reissue consumes no inventory"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn reissue_without_csr_reuses_the_key() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let original_id = Sim::tracking_id(ACTIVE);
    let original = sim.admin.order(original_id).await?;

    let outcome = sim.admin.reissue(original_id, &Reissue::default()).await?;

    let OrderOutcome::Issued(issued) = outcome else {
        panic!("a reissue is issued at once, got {outcome:?}");
    };
    let Some(original_pem) = original.certificate_pem else {
        panic!("the original carries a certificate");
    };
    assert_eq!(
        public_key_of(&issued.certificate_pem)?,
        public_key_of(&original_pem)?
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn renewal_gets_new_id_and_requested_expiry() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let original_id = Sim::tracking_id(RENEWABLE);
    let new_expiry = (crate::sim::NOW + time::Duration::days(380)).date();
    let before = sim.inventory().await?;

    let outcome = sim
        .admin
        .renew(
            original_id,
            &Renewal {
                expires_on: Some(new_expiry),
                tracking_marker: Some("renew-mail-relay".to_owned()),
                ..Renewal::default()
            },
        )
        .await?;

    let OrderOutcome::Issued(issued) = outcome else {
        panic!("a renewal is issued at once, got {outcome:?}");
    };
    assert_ne!(issued.tracking_id, original_id);
    assert_eq!(issued.expires_at.map(|t| t.date()), Some(new_expiry));
    assert_eq!(
        sim.admin.order(original_id).await?.status,
        OrderStatus::Renewed
    );
    assert_eq!(
        remaining(&sim.inventory().await?, "STANDARD_SSL"),
        remaining(&before, "STANDARD_SSL").map(|n| n - 1)
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn renewal_within_thirty_days_is_invalid() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(RECENT);
    let before = sim.inventory().await?;
    let orders_before = sim.order_count().await?;

    let error = sim.admin.renew(id, &Renewal::default()).await.err();

    let Some(error) = error else {
        panic!("renewing a 10-day-old certificate must fail");
    };
    assert_eq!(error.http_status(), Some(400));
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(
        message_of(&error).contains("less than 30 days ago"),
        "{error}"
    );
    assert_eq!(sim.admin.order(id).await?.status, OrderStatus::Active);
    assert_eq!(sim.inventory().await?, before);
    assert_eq!(sim.order_count().await?, orders_before);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn simulator_rejects_expiry_fields_on_reissue() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let path = format!("/certificates/{}/reissues", Sim::tracking_id(ACTIVE));
    let orders_before = sim.order_count().await?;

    let mut responses = Vec::new();
    for (field, value) in [
        ("certExpiryDate", json!("2027-01-31")),
        ("certLifetime", json!("P1Y")),
        ("validateOnly", json!(true)),
    ] {
        let body = json!({ field: value });
        responses.push((field, sim.raw("POST", &path, Some(&body)).await?));
    }

    for (field, response) in responses {
        assert_eq!(response.status, 400, "{field}: {:?}", response.body);
        let (message, error_field) = response.first_error();
        assert_eq!(error_field.as_deref(), Some(field));
        assert!(message.contains("not"), "{field}: {message}");
    }
    assert_eq!(sim.order_count().await?, orders_before);
    assert_eq!(
        sim.admin.order(Sim::tracking_id(ACTIVE)).await?.status,
        OrderStatus::Active
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn simulator_rejects_validate_only_on_renewal() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let path = format!("/certificates/{}/renewals", Sim::tracking_id(RENEWABLE));

    let response = sim
        .raw("POST", &path, Some(&json!({"validateOnly": false})))
        .await?;

    assert_eq!(response.status, 400);
    let (message, field) = response.first_error();
    assert_eq!(field.as_deref(), Some("validateOnly"));
    assert!(message.contains("not supported on renewals"), "{message}");
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unknown_order_successors_are_not_found() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let unknown = TrackingId::new(99_999_999);

    let reissue = sim.admin.reissue(unknown, &Reissue::default()).await.err();
    let renewal = sim.admin.renew(unknown, &Renewal::default()).await.err();

    for (name, error) in [("reissue", reissue), ("renewal", renewal)] {
        let Some(error) = error else {
            panic!("{name} of an unknown order must fail");
        };
        assert_eq!(error.http_status(), Some(404), "{name}: {error:?}");
        assert!(message_of(&error).contains("99999999"), "{name}: {error}");
    }
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn revoked_order_cannot_be_reissued() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let error = sim
        .admin
        .reissue(Sim::tracking_id(REVOKED), &Reissue::default())
        .await
        .err();

    let Some(error) = error else {
        panic!("reissuing a REVOKED order must fail");
    };
    assert_eq!(error.http_status(), Some(400));
    assert!(message_of(&error).contains("cannot be reissued"), "{error}");
    sim.stop().await;
    Ok(())
}
