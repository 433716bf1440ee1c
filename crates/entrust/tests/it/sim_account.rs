//! Sub-accounts, domain verification and certificates known by thumbprint, against the
//! simulator.

use entrust::Error;
use entrust::model::{
    DomainVerificationRequest, DomainVerificationStatus, EmailSource, NewDomain, OrderFilter,
    OrderQuery, OrderStatus, OrganizationVerificationStatus, TrackingId, VerificationMethod,
};

use crate::sim::{NOW, Sim};

fn dns() -> DomainVerificationRequest {
    DomainVerificationRequest {
        method: VerificationMethod::Dns,
        email: None,
    }
}

#[tokio::test]
async fn clients_list_their_verification_state() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let clients = sim.admin.clients().await?;

    let summary: Vec<(u32, &str, OrganizationVerificationStatus)> = clients
        .iter()
        .map(|c| (c.client_id, c.name.as_str(), c.verification_status.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                1,
                "Certitude Demo Corp",
                OrganizationVerificationStatus::Approved
            ),
            (
                2,
                "Cañon City, Inc.",
                OrganizationVerificationStatus::Approved
            ),
            (
                3,
                "Northwind Retail GmbH",
                OrganizationVerificationStatus::Pending
            ),
        ]
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn client_detail_has_address_and_organizations() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let primary = sim.admin.client(1).await?;
    let unknown = sim.admin.client(77).await.err();

    assert_eq!(primary.client.client_id, 1);
    let address = primary.address.clone().unwrap_or_default();
    assert_eq!(address.city.as_deref(), Some("Ottawa"));
    assert_eq!(address.country.as_deref(), Some("CA"));
    assert_eq!(address.postal_code.as_deref(), Some("K2K 3E7"));
    let mut names: Vec<&str> = primary
        .organizations
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec![
            "Certitude Demo Corp",
            "Certitude Demo Labs",
            "Certitude Legacy Brands"
        ]
    );
    assert!(primary.organizations.iter().all(|o| o.client_id == Some(1)));
    assert!(
        matches!(&unknown, Some(Error::NotFound { path, .. }) if path == "/clients/77"),
        "{unknown:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn added_domain_awaits_initial_verification() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let accepted = sim
        .admin
        .add_domain(
            1,
            &NewDomain {
                name: "Fresh-Product.example".to_owned(),
                verification: dns(),
            },
        )
        .await?;
    let detail = sim.admin.domain(1, "fresh-product.example").await?;
    let listed = sim.admin.client_domains(1).await?;

    assert_eq!(
        accepted.location.as_deref(),
        Some("/clients/1/domains/fresh-product.example")
    );
    assert!(accepted.ready_at.is_some(), "{accepted:?}");
    assert_eq!(detail.domain.name, "fresh-product.example");
    assert_eq!(detail.domain.client_id, Some(1));
    assert_eq!(
        detail.domain.verification_status,
        DomainVerificationStatus::InitialVerification
    );
    assert!(!detail.domain.verification_status.is_usable());
    let dns = detail
        .dns
        .unwrap_or_else(|| panic!("a DNS domain has DNS details"));
    assert_eq!(dns.record_type.as_deref(), Some("TXT"));
    assert!(dns.record_value.is_some_and(|value| !value.is_empty()));
    assert!(listed.iter().any(|d| d.name == "fresh-product.example"));
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn reverified_domain_stays_usable_with_new_values() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    sim.admin.reverify_domain(1, "example.com", &dns()).await?;
    let first = sim.admin.domain(1, "example.com").await?;
    sim.admin.reverify_domain(1, "example.com", &dns()).await?;
    let second = sim.admin.domain(1, "example.com").await?;

    assert_eq!(
        first.domain.verification_status,
        DomainVerificationStatus::ReVerification
    );
    assert!(first.domain.verification_status.is_usable());
    let value = |detail: &entrust::model::DomainDetail| {
        detail.dns.as_ref().and_then(|dns| dns.record_value.clone())
    };
    assert!(value(&first).is_some());
    assert_ne!(
        value(&first),
        value(&second),
        "each re-verification draws a new value"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn email_verification_targets_the_given_address() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    sim.admin
        .add_domain(
            1,
            &NewDomain {
                name: "mail-check.example".to_owned(),
                verification: DomainVerificationRequest {
                    method: VerificationMethod::Email,
                    email: Some(EmailSource::Specified(
                        "hostmaster@mail-check.example".to_owned(),
                    )),
                },
            },
        )
        .await?;
    let detail = sim.admin.domain(1, "mail-check.example").await?;
    let rejected = sim
        .admin
        .reverify_domain(
            1,
            "mail-check.example",
            &DomainVerificationRequest {
                method: VerificationMethod::Email,
                email: Some(EmailSource::Specified("ceo@elsewhere.example".to_owned())),
            },
        )
        .await
        .err();

    assert_eq!(
        detail.domain.verification_method,
        Some(VerificationMethod::Email)
    );
    assert_eq!(detail.emails, vec!["hostmaster@mail-check.example"]);
    let Some(Error::InvalidRequest { messages, .. }) = &rejected else {
        panic!("an address ECS cannot mail must be rejected, got {rejected:?}");
    };
    assert_eq!(
        messages.as_slice()[0].field.as_deref(),
        Some("emailMethod.email")
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unknown_and_duplicate_domains_are_reported() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let unknown = sim.admin.domain(1, "nowhere.example").await.err();
    let duplicate = sim
        .admin
        .add_domain(
            1,
            &NewDomain {
                name: "example.com".to_owned(),
                verification: dns(),
            },
        )
        .await
        .err();
    let other_client = sim.admin.domain(2, "example.com").await.err();

    assert!(
        matches!(&unknown, Some(Error::NotFound { path, .. }) if path == "/clients/1/domains/nowhere.example"),
        "{unknown:?}"
    );
    assert_eq!(
        duplicate.as_ref().and_then(Error::http_status),
        Some(400),
        "{duplicate:?}"
    );
    assert!(
        matches!(&other_client, Some(Error::NotFound { .. })),
        "{other_client:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn third_party_record_found_by_thumbprint() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let third_party = sim
        .admin
        .all_orders(OrderQuery {
            filters: vec![OrderFilter::ThirdParty(true)],
            ..OrderQuery::default()
        })
        .await?;
    let listing = sim
        .raw(
            "GET",
            "/certificates?isThirdParty=true&fields=uri,trackingId",
            None,
        )
        .await?;
    let uri = listing.body["certificates"][0]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let thumbprint = uri
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let spaced: Vec<String> = thumbprint
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect();
    let detail = sim.admin.order_by_thumbprint(&spaced.join(":")).await?;
    let unknown = sim.admin.order_by_thumbprint(&"ab".repeat(20)).await.err();

    assert_eq!(third_party.len(), 1, "{third_party:?}");
    assert_eq!(third_party[0].tracking_id, TrackingId::new(0));
    assert!(third_party[0].third_party);
    assert!(
        uri.starts_with("/enterprise/v2/certificates/thumbprints/"),
        "{uri}"
    );
    assert_eq!(thumbprint.len(), 40);
    assert_eq!(detail.tracking_id, TrackingId::new(0));
    assert_eq!(detail.status, OrderStatus::Unknown);
    assert!(detail.third_party);
    assert!(detail.certificate_pem.is_some());
    assert_eq!(
        detail.tracking_marker.as_deref(),
        Some("discovered-load-balancer")
    );
    assert!(
        matches!(unknown, Some(Error::NotFound { .. })),
        "{unknown:?}"
    );
    assert!(matches!(
        sim.admin.order_by_thumbprint("not-hex").await,
        Err(Error::InvalidInput {
            field: "thumbprint",
            ..
        })
    ));
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn domain_expiry_dates_follow_the_clock() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let detail = sim.admin.domain(1, "example.net").await?;

    assert_eq!(
        detail.domain.ov_expiry.map(|t| t.date()),
        Some((NOW + time::Duration::days(20)).date())
    );
    assert_eq!(detail.domain.ev_eligible, Some(false));
    sim.stop().await;
    Ok(())
}
