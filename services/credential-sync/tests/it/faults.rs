//! Entrust returning 429 and 5xx during a sync, with faults armed through the simulator's
//! control API: the sync completes after the adapter's retries, or, when the faults outlast
//! them, keeps the last catalog and reports the error.

use certitude_proto::credential::v1::{CatalogRequest, Domain};
use entrust_sim::{Fault, FaultKind, Scenario};

use crate::catalog::sync_now;
use crate::support::{
    Client, DEMO_DOMAINS, DEMO_ORGANIZATIONS, DEMO_PRODUCTS, TestService, demo_request,
    finished_run, first_run, start_simulator,
};
use crate::sync_kinds::requests_to;

/// Arms `kind` for `count` requests (every request when `None`) to paths starting with
/// `path_prefix`.
fn fault(kind: FaultKind, count: Option<u32>, path_prefix: Option<&str>) -> Fault {
    Fault {
        kind,
        count,
        method: Some("GET".to_owned()),
        path_prefix: path_prefix.map(str::to_owned),
    }
}

async fn domains(client: &mut Client, credential_id: &str) -> Vec<Domain> {
    client
        .list_domains(CatalogRequest {
            credential_id: credential_id.to_owned(),
            include_removed: true,
            ..CatalogRequest::default()
        })
        .await
        .expect("the domains are listed")
        .into_inner()
        .domains
}

async fn add_synced(service: &mut TestService, url: &str) -> String {
    let credential = service
        .client
        .add_credential(demo_request("demo", url))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    credential.id
}

#[tokio::test]
async fn sync_completes_after_rate_limits() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, &simulator.base_url()).await;
    simulator.clear_request_log();
    let limited = FaultKind::RateLimit {
        retry_after_seconds: 1,
    };
    simulator
        .inject_fault(fault(limited, Some(2), Some("/domains")))
        .expect("the fault is armed");

    let run = sync_now(&mut service.client, &credential_id).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(run.domains as usize, DEMO_DOMAINS);
    let log = simulator.request_log();
    let throttled = log.iter().filter(|request| request.status == 429).count();
    assert_eq!(throttled, 2);
    assert_eq!(requests_to(&log, "/domains"), 3);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn sync_completes_after_server_errors() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, &simulator.base_url()).await;
    simulator.clear_request_log();
    simulator
        .inject_fault(fault(FaultKind::ServerError { status: 503 }, Some(2), None))
        .expect("the fault is armed");

    let run = sync_now(&mut service.client, &credential_id).await;

    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(run.organizations as usize, DEMO_ORGANIZATIONS);
    assert_eq!(run.domains as usize, DEMO_DOMAINS);
    assert_eq!(run.products as usize, DEMO_PRODUCTS);
    let log = simulator.request_log();
    let failed = log.iter().filter(|request| request.status == 503).count();
    assert_eq!(failed, 2);
    assert_eq!(log.len(), 5, "{log:?}");
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn lasting_server_errors_keep_the_last_domains() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, &simulator.base_url()).await;
    let before = domains(&mut service.client, &credential_id).await;
    simulator.clear_request_log();
    simulator
        .inject_fault(fault(
            FaultKind::ServerError { status: 500 },
            None,
            Some("/domains"),
        ))
        .expect("the fault is armed");

    let run = sync_now(&mut service.client, &credential_id).await;

    assert_eq!(run.state, "partial");
    assert!(run.error.starts_with("domains: "), "{}", run.error);
    assert!(run.error.contains("HTTP 500"), "{}", run.error);
    assert!(!run.error.contains("organizations"), "{}", run.error);
    assert_eq!(run.domains, 0);
    assert_eq!(run.organizations as usize, DEMO_ORGANIZATIONS);
    assert_eq!(run.products as usize, DEMO_PRODUCTS);
    assert_eq!(domains(&mut service.client, &credential_id).await, before);
    // One attempt and the adapter's three retries.
    assert_eq!(requests_to(&simulator.request_log(), "/domains"), 4);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn lasting_rate_limits_fail_the_run() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential_id = add_synced(&mut service, &simulator.base_url()).await;
    let before = domains(&mut service.client, &credential_id).await;
    let limited = FaultKind::RateLimit {
        retry_after_seconds: 1,
    };
    simulator
        .inject_fault(fault(limited, None, None))
        .expect("the fault is armed");

    let run = sync_now(&mut service.client, &credential_id).await;

    assert_eq!(run.state, "failed");
    for kind in ["organizations: ", "domains: ", "products: "] {
        assert!(run.error.contains(kind), "{}", run.error);
    }
    assert!(run.error.contains("HTTP 429"), "{}", run.error);
    assert_eq!((run.added, run.changed, run.removed), (0, 0, 0));
    assert_eq!(domains(&mut service.client, &credential_id).await, before);
    service.stop().await;
    simulator.shutdown().await;
}
