//! GetOrderingCatalog: the stored entries an order is checked against.

use certitude_proto::credential::v1::{GetOrderingCatalogRequest, OrderingCatalog};
use entrust_sim::{Fault, FaultKind, Scenario};
use tonic::Code;

use crate::support::{Client, TestService, demo_request, finished_run, first_run, start_simulator};

async fn ordering_catalog(
    client: &mut Client,
    credential_id: &str,
    dns_names: &[&str],
    organization: &str,
    product_type: &str,
) -> OrderingCatalog {
    client
        .get_ordering_catalog(GetOrderingCatalogRequest {
            credential_id: credential_id.to_owned(),
            dns_names: dns_names.iter().map(|name| (*name).to_owned()).collect(),
            organization: organization.to_owned(),
            product_type: product_type.to_owned(),
        })
        .await
        .expect("the ordering catalog is read")
        .into_inner()
}

#[tokio::test]
async fn ordering_catalog_holds_covering_entries() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the demo credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;

    let found = ordering_catalog(
        &mut service.client,
        &credential.id,
        &["*.shop.example.com", "www.Example.NET", "unknown.invalid"],
        "certitude demo corp",
        "standard_ssl",
    )
    .await;

    let domains: Vec<&str> = found.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(domains, ["example.com", "example.net"]);
    assert_eq!(found.organizations.len(), 1);
    assert_eq!(found.organizations[0].name, "Certitude Demo Corp");
    assert_eq!(found.organizations[0].verification_status, "APPROVED");
    let products: Vec<&str> = found
        .products
        .iter()
        .map(|p| p.product_type.as_str())
        .collect();
    assert_eq!(products, ["FLEX", "STANDARD_SSL"]);
    assert!(!found.synced_at.is_empty());
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn ordering_catalog_waits_for_first_sync() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    // The first sync waits half a second for the domain list.
    simulator
        .inject_fault(Fault {
            kind: FaultKind::Latency { delay_ms: 500 },
            count: Some(1),
            method: Some("GET".to_owned()),
            path_prefix: Some("/domains".to_owned()),
        })
        .expect("the fault is armed");
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the demo credential is added")
        .into_inner();

    let found = ordering_catalog(
        &mut service.client,
        &credential.id,
        &["www.example.com"],
        "",
        "STANDARD_SSL",
    )
    .await;

    assert!(!found.synced_at.is_empty());
    let domains: Vec<&str> = found.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(domains, ["example.com"]);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn ordering_catalog_of_unknown_credential_is_not_found() {
    let mut service = TestService::start().await;

    let status = service
        .client
        .get_ordering_catalog(GetOrderingCatalogRequest {
            credential_id: uuid::Uuid::new_v4().to_string(),
            ..GetOrderingCatalogRequest::default()
        })
        .await
        .expect_err("no such credential");

    assert_eq!(status.code(), Code::NotFound);
    service.stop().await;
}
