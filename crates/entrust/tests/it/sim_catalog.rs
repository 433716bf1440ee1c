//! Account endpoints against the simulator: version, organizations, domains, inventory and
//! credentials.

use entrust::model::{
    DomainVerificationStatus, OrganizationVerificationStatus, Product, VerificationMethod,
};
use entrust::{CertificateAuthority, Error};
use std::sync::Arc;
use time::Duration;

use crate::sim::{ADMIN_KEY, ADMIN_USER, NOW, REQUESTER_KEY, REQUESTER_USER, Sim};

#[tokio::test]
async fn version_reports_scenario_build() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let version = sim.admin.version().await?;

    assert_eq!(version, "12.5.0.138-sim");
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn organizations_match_scenario() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let mut organizations = sim.admin.organizations().await?;
    organizations.sort_by(|a, b| a.name.cmp(&b.name));

    let summary: Vec<(&str, Option<u32>, OrganizationVerificationStatus)> = organizations
        .iter()
        .map(|o| (o.name.as_str(), o.client_id, o.verification_status.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "Cañon City, Inc.",
                Some(2),
                OrganizationVerificationStatus::Approved
            ),
            (
                "Certitude Demo Corp",
                Some(1),
                OrganizationVerificationStatus::Approved
            ),
            (
                "Certitude Demo Labs",
                Some(1),
                OrganizationVerificationStatus::Pending
            ),
            (
                "Certitude Legacy Brands",
                Some(1),
                OrganizationVerificationStatus::Expired
            ),
            (
                "Northwind Retail GmbH",
                Some(3),
                OrganizationVerificationStatus::Deactivated
            ),
        ]
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn domains_report_verification_state() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let domains = sim.admin.domains().await?;

    assert_eq!(domains.len(), sim.scenario.domains.len());
    let find = |name: &str| {
        domains
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("domain {name} missing from {domains:?}"))
    };
    let expected = [
        ("example.com", DomainVerificationStatus::Approved, 1),
        ("example.net", DomainVerificationStatus::ReVerification, 1),
        ("example.org", DomainVerificationStatus::Expiring, 1),
        (
            "new-product.test",
            DomainVerificationStatus::InitialVerification,
            1,
        ),
        ("lapsed.test", DomainVerificationStatus::Expired, 1),
        ("rejected.test", DomainVerificationStatus::Declined, 1),
        ("canon-city.test", DomainVerificationStatus::Approved, 2),
        ("withdrawn.test", DomainVerificationStatus::Cancelled, 2),
    ];
    for (name, status, client_id) in expected {
        let domain = find(name);
        assert_eq!(domain.verification_status, status, "{name}");
        assert_eq!(domain.client_id, Some(client_id), "{name}");
    }

    let example = find("example.com");
    assert_eq!(example.verification_method, Some(VerificationMethod::Dns));
    assert_eq!(example.ov_eligible, Some(true));
    assert_eq!(example.ev_eligible, Some(true));
    assert_eq!(
        example.ov_expiry.map(|t| t.date()),
        Some((NOW + Duration::days(300)).date())
    );
    assert_eq!(
        example.ev_expiry.map(|t| t.date()),
        Some((NOW + Duration::days(200)).date())
    );
    let initial = find("new-product.test");
    assert_eq!(initial.ov_eligible, Some(false));
    assert_eq!(initial.ov_expiry, None);
    assert!(!initial.verification_status.is_usable());
    assert!(find("example.net").verification_status.is_usable());
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn client_domains_are_limited_to_that_client() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let mut names: Vec<String> = sim
        .admin
        .client_domains(2)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();

    assert_eq!(names, vec!["canon-city.test", "withdrawn.test"]);
    assert_eq!(sim.admin.client_domains(1).await?.len(), 6);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unknown_client_domains_is_not_found() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let error = sim.admin.client_domains(77).await.err();

    assert!(
        matches!(&error, Some(Error::NotFound { path, .. }) if path == "/clients/77/domains"),
        "{error:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn products_match_inventory() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let products = sim.admin.products().await?;

    let find = |code: &str| -> &Product {
        products
            .iter()
            .find(|p| p.product_type == code)
            .unwrap_or_else(|| panic!("product {code} missing from {products:?}"))
    };
    assert_eq!(products.len(), sim.scenario.inventory.len());
    let standard = find("STANDARD_SSL");
    assert_eq!(
        (standard.remaining, standard.used, standard.total),
        (Some(14), Some(6), Some(20))
    );
    assert!(!standard.unlimited);
    let flex = find("FLEX");
    assert_eq!(
        (flex.remaining, flex.used, flex.total),
        (Some(6), Some(4), Some(10))
    );
    let pd = find("PD_SSL");
    assert_eq!(pd.remaining, Some(0));
    assert!(!pd.is_available());
    let uc = find("UC_SSL");
    assert!(uc.unlimited);
    assert!(uc.is_available());
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn wrong_api_key_is_rejected_credentials() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let wrong = sim.client(ADMIN_USER, "not-the-admin-key")?;
    let unknown = sim.client("nobody", ADMIN_KEY)?;

    let wrong_key = wrong.version().await.err();
    let unknown_user = unknown.organizations().await.err();

    assert!(
        matches!(wrong_key, Some(Error::CredentialsRejected { .. })),
        "{wrong_key:?}"
    );
    assert!(
        matches!(unknown_user, Some(Error::CredentialsRejected { .. })),
        "{unknown_user:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn trait_object_serves_catalog() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let authority: Arc<dyn CertificateAuthority> =
        Arc::new(sim.client(REQUESTER_USER, REQUESTER_KEY)?);

    let version = authority.check_credentials().await?;
    let organizations = authority.organizations().await?;
    let domains = authority.domains().await?;
    let products = authority.products().await?;

    assert_eq!(version, "12.5.0.138-sim");
    assert_eq!(organizations.len(), sim.scenario.organizations.len());
    assert_eq!(domains.len(), sim.scenario.domains.len());
    assert_eq!(products.len(), sim.scenario.inventory.len());
    sim.stop().await;
    Ok(())
}
