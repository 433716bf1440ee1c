//! Catalog syncs against the simulator: the stored catalog, paging, entries that vanish and
//! come back, and failed syncs.

use certitude_platform::events::{decode_envelope, decode_payload};
use certitude_proto::credential::v1::{CatalogRequest, Domain, SyncCatalogRequest};
use certitude_proto::events::v1::CatalogSynced;
use entrust_sim::Scenario;
use secrecy::SecretString;

use crate::proxy::GatedProxy;
use crate::support::{
    Client, DEMO_DOMAINS, DEMO_KEY, DEMO_ORGANIZATIONS, DEMO_PRODUCTS, TestService, demo_request,
    eventually, finished_run, first_run, origin, start_simulator,
};

fn catalog_request(credential_id: &str) -> CatalogRequest {
    CatalogRequest {
        credential_id: credential_id.to_owned(),
        ..CatalogRequest::default()
    }
}

async fn domains(client: &mut Client, credential_id: &str, include_removed: bool) -> Vec<Domain> {
    client
        .list_domains(CatalogRequest {
            include_removed,
            ..catalog_request(credential_id)
        })
        .await
        .expect("domains are listed")
        .into_inner()
        .domains
}

/// Starts an on-demand sync and waits for its end.
pub async fn sync_now(
    client: &mut Client,
    credential_id: &str,
) -> certitude_proto::credential::v1::SyncRun {
    let run = client
        .sync_catalog(SyncCatalogRequest {
            credential_id: credential_id.to_owned(),
            ..SyncCatalogRequest::default()
        })
        .await
        .expect("a sync starts")
        .into_inner();
    finished_run(client, &run.id).await
}

#[tokio::test]
async fn demo_credential_syncs_demo_catalog() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;

    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the demo credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    let run = finished_run(&mut service.client, &run.id).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(run.organizations as usize, DEMO_ORGANIZATIONS);
    assert_eq!(run.domains as usize, DEMO_DOMAINS);
    assert_eq!(run.products as usize, DEMO_PRODUCTS);
    assert_eq!(run.removed, 0);
    assert!(!run.finished_at.is_empty());

    let organizations = service
        .client
        .list_organizations(catalog_request(&credential.id))
        .await
        .expect("organizations are listed")
        .into_inner()
        .organizations;
    let mut scenario_names: Vec<String> = Scenario::demo()
        .organizations
        .iter()
        .map(|organization| organization.name.clone())
        .collect();
    scenario_names.sort();
    let names: Vec<String> = organizations.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names, scenario_names);

    let domains = domains(&mut service.client, &credential.id, false).await;
    assert_eq!(domains.len(), DEMO_DOMAINS);
    let example = domains
        .iter()
        .find(|domain| domain.name == "example.com")
        .expect("example.com is in the catalog");
    assert_eq!(example.client_id, 1);
    assert_eq!(example.verification_status, "APPROVED");
    assert_eq!(example.verification_method, "DNS");
    assert!(example.ov_eligible);
    assert!(!example.ov_expiry.is_empty());
    assert!(example.removed_at.is_empty());

    let products = service
        .client
        .list_products(catalog_request(&credential.id))
        .await
        .expect("products are listed")
        .into_inner()
        .products;
    assert_eq!(products.len(), DEMO_PRODUCTS);
    let standard = products
        .iter()
        .find(|product| product.product_type == "STANDARD_SSL")
        .expect("STANDARD_SSL is in the catalog");
    assert_eq!(
        (
            standard.remaining_count,
            standard.used_count,
            standard.total_count
        ),
        (14, 6, 20)
    );
    assert!(standard.counts_reported);
    let unlimited = products
        .iter()
        .find(|product| product.product_type == "UC_SSL")
        .expect("UC_SSL is in the catalog");
    assert!(unlimited.unlimited);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn domains_page_in_name_order() {
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

    let mut names = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = service
            .client
            .list_domains(CatalogRequest {
                page_size: 3,
                page_token,
                ..catalog_request(&credential.id)
            })
            .await
            .expect("a page is listed")
            .into_inner();
        pages += 1;
        assert!(page.domains.len() <= 3);
        names.extend(page.domains.into_iter().map(|domain| domain.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    let mut expected: Vec<String> = Scenario::demo()
        .domains
        .iter()
        .map(|domain| domain.domain_name.clone())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(pages, 3);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn vanished_domain_is_marked_removed_and_restored() {
    let full = start_simulator(Scenario::demo()).await;
    let mut without_withdrawn = Scenario::demo();
    without_withdrawn
        .domains
        .retain(|domain| domain.domain_name != "withdrawn.test");
    let reduced = start_simulator(without_withdrawn).await;
    let proxy = GatedProxy::start(&origin(&full)).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &proxy.base_url()))
        .await
        .expect("the demo credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    let before = domains(&mut service.client, &credential.id, false).await;

    // Act: the account loses a domain.
    proxy.set_upstream(&origin(&reduced));
    let run = sync_now(&mut service.client, &credential.id).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(run.domains as usize, DEMO_DOMAINS - 1);
    assert_eq!(run.removed, 1);
    let listed = domains(&mut service.client, &credential.id, false).await;
    assert_eq!(listed.len(), DEMO_DOMAINS - 1);
    assert!(listed.iter().all(|domain| domain.name != "withdrawn.test"));
    let all = domains(&mut service.client, &credential.id, true).await;
    let withdrawn = all
        .iter()
        .find(|domain| domain.name == "withdrawn.test")
        .expect("the removed domain is kept");
    assert!(!withdrawn.removed_at.is_empty());
    assert_eq!(all.len(), DEMO_DOMAINS);

    // Act: the domain comes back.
    proxy.set_upstream(&origin(&full));
    let run = sync_now(&mut service.client, &credential.id).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(run.removed, 0);
    let restored = domains(&mut service.client, &credential.id, false).await;
    let withdrawn = restored
        .iter()
        .find(|domain| domain.name == "withdrawn.test")
        .expect("the domain is listed again");
    let original = before
        .iter()
        .find(|domain| domain.name == "withdrawn.test")
        .expect("the domain was listed at first");
    assert!(withdrawn.removed_at.is_empty());
    assert_eq!(withdrawn.first_seen_at, original.first_seen_at);
    service.stop().await;
    full.shutdown().await;
    reduced.shutdown().await;
}

#[tokio::test]
async fn failed_sync_keeps_last_good_catalog() {
    let demo = start_simulator(Scenario::demo()).await;
    let mut rotated = Scenario::demo();
    rotated.api_users[0].api_key = SecretString::from("rotated-admin-key");
    let rotated = start_simulator(rotated).await;
    let proxy = GatedProxy::start(&origin(&demo)).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &proxy.base_url()))
        .await
        .expect("the demo credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    let before = domains(&mut service.client, &credential.id, true).await;

    // Act: the API key is rotated in the Entrust portal, so the next sync is rejected.
    proxy.set_upstream(&origin(&rotated));
    let run = sync_now(&mut service.client, &credential.id).await;

    assert_eq!(run.state, "failed");
    assert!(run.error.contains("HTTP 401"), "{}", run.error);
    assert!(!run.error.contains(DEMO_KEY), "{}", run.error);
    assert_eq!(run.domains, 0);
    assert!(!run.finished_at.is_empty());
    let after = domains(&mut service.client, &credential.id, true).await;
    assert_eq!(after, before);

    let subject = service.subject("catalog.synced");
    eventually("the failed run's event is published", || async {
        service.messages_on(&subject).await.len() == 2
    })
    .await;
    let messages = service.messages_on(&subject).await;
    let envelope = decode_envelope(&messages[1].payload).expect("the body is an envelope");
    let event: CatalogSynced = decode_payload(&envelope).expect("the payload decodes");
    assert_eq!(event.sync_run_id, run.id);
    assert_eq!(event.outcome, "failed");
    assert_eq!(event.error, run.error);
    assert_eq!(event.domains, 0);
    service.stop().await;
    demo.shutdown().await;
    rotated.shutdown().await;
}
