//! Syncs of chosen kinds and of every credential, counted in the simulator's request log, and
//! the added, changed and removed counts of a run.

use std::collections::HashSet;

use certitude_proto::credential::v1::{
    CatalogRequest, SyncAllCatalogsRequest, SyncCatalogRequest, SyncRun,
};
use certitude_proto::events::v1::CatalogSynced;
use entrust_sim::model::DomainStatus;
use entrust_sim::{DomainUpdate, LoggedRequest, Scenario};
use tonic::Code;

use crate::support::{
    Client, DEMO_DOMAINS, DEMO_ORGANIZATIONS, DEMO_PRODUCTS, TestService, demo_request,
    finished_run, first_run, start_simulator,
};

/// Counts the logged requests whose path ends with `suffix`, such as `/domains`.
pub fn requests_to(log: &[LoggedRequest], suffix: &str) -> usize {
    log.iter()
        .filter(|request| request.path.ends_with(suffix))
        .count()
}

fn kinds(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

async fn sync_kinds(client: &mut Client, credential_id: &str, names: &[&str]) -> SyncRun {
    let run = client
        .sync_catalog(SyncCatalogRequest {
            credential_id: credential_id.to_owned(),
            kinds: kinds(names),
        })
        .await
        .expect("a sync starts")
        .into_inner();
    finished_run(client, &run.id).await
}

async fn add_synced(service: &mut TestService, name: &str, url: &str) -> String {
    let credential = service
        .client
        .add_credential(demo_request(name, url))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    credential.id
}

#[tokio::test]
async fn domain_sync_touches_only_domains() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, "demo", &simulator.base_url()).await;
    simulator.clear_request_log();

    let run = sync_kinds(&mut service.client, &credential_id, &["domains"]).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(run.kinds, ["domains"]);
    assert_eq!(run.domains as usize, DEMO_DOMAINS);
    assert_eq!(run.organizations, 0);
    assert_eq!(run.products, 0);
    assert_eq!((run.added, run.changed, run.removed), (0, 0, 0));
    let log = simulator.request_log();
    assert_eq!(requests_to(&log, "/domains"), 1);
    assert_eq!(log.len(), 1, "{log:?}");
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn first_sync_counts_every_entry_as_added() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, "demo", &simulator.base_url()).await;

    let runs = crate::support::sync_runs(&mut service.client, &credential_id).await;
    let events = service.published::<CatalogSynced>().await;

    let run = &runs[0];
    let all = DEMO_ORGANIZATIONS + DEMO_DOMAINS + DEMO_PRODUCTS;
    assert_eq!(run.kinds, ["organizations", "domains", "products"]);
    assert_eq!(run.added as usize, all);
    assert_eq!((run.changed, run.removed), (0, 0));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].added as usize, all);
    assert_eq!(events[0].kinds, run.kinds);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn expired_domain_shows_as_changed() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, "demo", &simulator.base_url()).await;

    // Act: the domain's verification lapses at Entrust between two syncs.
    simulator
        .update_domain(
            1,
            "example.com",
            &DomainUpdate {
                verification_status: Some(DomainStatus::Expired),
                ..DomainUpdate::default()
            },
        )
        .expect("the simulator changes the domain");
    let run = sync_kinds(&mut service.client, &credential_id, &[]).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!((run.added, run.changed, run.removed), (0, 1, 0));
    let domains = service
        .client
        .list_domains(CatalogRequest {
            credential_id: credential_id.clone(),
            ..CatalogRequest::default()
        })
        .await
        .expect("the domains are listed")
        .into_inner()
        .domains;
    let example = domains
        .iter()
        .find(|domain| domain.name == "example.com")
        .expect("example.com is listed");
    assert_eq!(example.verification_status, "EXPIRED");
    assert_ne!(example.updated_at, example.first_seen_at);
    let events = service.published::<CatalogSynced>().await;
    let last = events.last().expect("the run was announced");
    assert_eq!(last.sync_run_id, run.id);
    assert_eq!((last.added, last.changed, last.removed), (0, 1, 0));
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn all_credentials_sync_runs_each_once() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let mut credential_ids = Vec::new();
    for name in ["first", "second", "third"] {
        credential_ids.push(add_synced(&mut service, name, &simulator.base_url()).await);
    }
    simulator.clear_request_log();

    let started = service
        .client
        .sync_all_catalogs(SyncAllCatalogsRequest {
            kinds: kinds(&["domains", "products"]),
        })
        .await
        .expect("the syncs start")
        .into_inner()
        .sync_runs;
    let mut finished = Vec::new();
    for run in &started {
        finished.push(finished_run(&mut service.client, &run.id).await);
    }

    let synced: Vec<&str> = started
        .iter()
        .map(|run| run.credential_id.as_str())
        .collect();
    assert_eq!(synced, credential_ids);
    let run_ids: HashSet<&str> = started.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(run_ids.len(), 3);
    for run in &finished {
        assert_eq!(run.state, "succeeded", "{}", run.error);
        assert_eq!(run.kinds, ["domains", "products"]);
        assert_eq!(run.trigger, "on_demand");
    }
    let log = simulator.request_log();
    assert_eq!(requests_to(&log, "/domains"), 3);
    assert_eq!(requests_to(&log, "/inventories"), 3);
    assert_eq!(requests_to(&log, "/organizations"), 0);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn unknown_kind_is_invalid_argument() {
    let mut service = TestService::start().await;

    let one = service
        .client
        .sync_catalog(SyncCatalogRequest {
            credential_id: uuid::Uuid::now_v7().to_string(),
            kinds: kinds(&["certificates"]),
        })
        .await
        .expect_err("certificates is no catalog kind");
    let all = service
        .client
        .sync_all_catalogs(SyncAllCatalogsRequest {
            kinds: kinds(&["domains", "certificates"]),
        })
        .await
        .expect_err("certificates is no catalog kind");

    for status in [one, all] {
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with("kinds: "),
            "{}",
            status.message()
        );
    }
    service.stop().await;
}
