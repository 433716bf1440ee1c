//! Two credential-sync instances on one schema: concurrent requests for the same sync share
//! one run, whichever instance they reach.

use certitude_proto::credential::v1::SyncCatalogRequest;
use entrust_sim::Scenario;

use crate::proxy::GatedProxy;
use crate::support::{
    Client, TestService, demo_request, finished_run, first_run, origin, start_simulator, sync_runs,
};
use crate::sync_kinds::requests_to;

async fn request_sync(mut client: Client, credential_id: String) -> String {
    client
        .sync_catalog(SyncCatalogRequest {
            credential_id,
            ..SyncCatalogRequest::default()
        })
        .await
        .expect("the sync starts or is joined")
        .into_inner()
        .id
}

#[tokio::test]
async fn two_instances_share_one_run() {
    let simulator = start_simulator(Scenario::demo()).await;
    let proxy = GatedProxy::start(&origin(&simulator)).await;
    let mut service = TestService::start().await;
    let replica = service.start_replica().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &proxy.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    let first = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &first.id).await;
    simulator.clear_request_log();
    proxy.close_gate();

    // Act: both instances are asked at once while the domain list is held at the proxy.
    let (one, other) = tokio::join!(
        request_sync(service.client.clone(), credential.id.clone()),
        request_sync(replica.client.clone(), credential.id.clone()),
    );
    proxy.open_gate();
    let run = finished_run(&mut service.client, &one).await;

    assert_eq!(one, other);
    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert_eq!(
        sync_runs(&mut service.client, &credential.id).await.len(),
        2
    );
    let log = simulator.request_log();
    assert_eq!(requests_to(&log, "/domains"), 1);
    assert_eq!(requests_to(&log, "/organizations"), 1);
    assert_eq!(requests_to(&log, "/inventories"), 1);
    replica.stop().await;
    service.stop().await;
    simulator.shutdown().await;
}
