//! Starting sync runs: one running run per credential, the schedule, unknown credentials.

use certitude_proto::credential::v1::{GetSyncRunRequest, SyncCatalogRequest};
use entrust_sim::Scenario;
use time::{Duration, OffsetDateTime};
use tonic::Code;
use uuid::Uuid;

use crate::proxy::GatedProxy;
use crate::support::{
    TestService, demo_request, eventually, finished_run, first_run, origin, start_simulator,
    sync_runs,
};

fn sync_request(credential_id: &str) -> SyncCatalogRequest {
    SyncCatalogRequest {
        credential_id: credential_id.to_owned(),
        ..SyncCatalogRequest::default()
    }
}

#[tokio::test]
async fn sync_requests_during_a_run_join_it() {
    let simulator = start_simulator(Scenario::demo()).await;
    let proxy = GatedProxy::start(&origin(&simulator)).await;
    proxy.close_gate();
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &proxy.base_url()))
        .await
        .expect("the credential is added while domain lists are held")
        .into_inner();
    let running = first_run(&mut service.client, &credential.id).await;

    // Act: two sync requests while the first run waits for the domain list.
    let second = service
        .client
        .sync_catalog(sync_request(&credential.id))
        .await
        .expect("the request returns the running run")
        .into_inner();
    let third = service
        .client
        .sync_catalog(sync_request(&credential.id))
        .await
        .expect("the request returns the running run")
        .into_inner();

    assert_eq!(running.state, "running");
    assert_eq!(second.id, running.id);
    assert_eq!(third.id, running.id);
    assert_eq!(second.state, "running");
    assert_eq!(
        sync_runs(&mut service.client, &credential.id).await.len(),
        1
    );

    // Act: the domain list arrives, the run ends, and a new request starts a new run.
    proxy.open_gate();
    let finished = finished_run(&mut service.client, &running.id).await;
    let next = service
        .client
        .sync_catalog(sync_request(&credential.id))
        .await
        .expect("a new run starts")
        .into_inner();

    assert_eq!(finished.state, "succeeded", "{}", finished.error);
    assert_ne!(next.id, running.id);
    assert_eq!(next.trigger, "on_demand");
    finished_run(&mut service.client, &next.id).await;
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn schedule_starts_due_syncs() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start_with(&[("CERTITUDE_CATALOG_SYNC_INTERVAL", "1s")]).await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();

    let client = service.client.clone();
    eventually("the schedule starts a sync of the credential", || {
        let mut client = client.clone();
        let credential_id = credential.id.clone();
        async move {
            sync_runs(&mut client, &credential_id)
                .await
                .iter()
                .any(|run| run.trigger == "schedule")
        }
    })
    .await;

    let runs = sync_runs(&mut service.client, &credential.id).await;
    let running = runs.iter().filter(|run| run.state == "running").count();
    assert!(running <= 1, "{runs:?}");
    for run in &runs {
        let run = finished_run(&mut service.client, &run.id).await;
        assert_eq!(run.state, "succeeded", "{}", run.error);
    }
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn sync_of_unknown_credential_is_not_found() {
    let mut service = TestService::start().await;

    let status = service
        .client
        .sync_catalog(sync_request(&uuid::Uuid::now_v7().to_string()))
        .await
        .expect_err("no credential has the id");

    assert_eq!(status.code(), Code::NotFound);
    service.stop().await;
}

/// Inserts a running run as another replica would, with a lease ending at `lease_expires_at`.
async fn insert_running_run(
    service: &TestService,
    credential_id: &str,
    lease_expires_at: OffsetDateTime,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO sync_runs (id, credential_id, state, trigger, started_at, lease_expires_at)
         VALUES ($1, $2, 'running', 'schedule', $3, $4)",
    )
    .bind(id)
    .bind(Uuid::parse_str(credential_id).expect("the credential id is a UUID"))
    .bind(OffsetDateTime::now_utc() - Duration::minutes(10))
    .bind(lease_expires_at)
    .execute(&service.db.pool)
    .await
    .expect("the run is inserted");
    id
}

#[tokio::test]
async fn leased_run_of_other_replica_is_joined() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    let first = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &first.id).await;
    let leased = OffsetDateTime::now_utc() + Duration::minutes(1);
    let elsewhere = insert_running_run(&service, &credential.id, leased).await;

    let joined = service
        .client
        .sync_catalog(sync_request(&credential.id))
        .await
        .expect("the request returns the running run")
        .into_inner();

    assert_eq!(joined.id, elsewhere.to_string());
    assert_eq!(joined.state, "running");
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn abandoned_run_is_closed_and_replaced() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    let first = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &first.id).await;
    let expired = OffsetDateTime::now_utc() - Duration::minutes(1);
    let abandoned = insert_running_run(&service, &credential.id, expired).await;

    let started = service
        .client
        .sync_catalog(sync_request(&credential.id))
        .await
        .expect("a new run starts")
        .into_inner();
    let closed = service
        .client
        .get_sync_run(GetSyncRunRequest {
            id: abandoned.to_string(),
        })
        .await
        .expect("the abandoned run exists")
        .into_inner();

    assert_ne!(started.id, abandoned.to_string());
    assert_eq!(closed.state, "failed");
    assert!(closed.error.starts_with("abandoned"), "{}", closed.error);
    assert!(!closed.finished_at.is_empty());
    let started = finished_run(&mut service.client, &started.id).await;
    assert_eq!(started.state, "succeeded", "{}", started.error);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn shutdown_records_the_running_run_as_interrupted() {
    let simulator = start_simulator(Scenario::demo()).await;
    let proxy = GatedProxy::start(&origin(&simulator)).await;
    proxy.close_gate();
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &proxy.base_url()))
        .await
        .expect("the credential is added while domain lists are held")
        .into_inner();
    let running = first_run(&mut service.client, &credential.id).await;

    service.stop_service().await;

    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM sync_runs WHERE id = $1")
            .bind(Uuid::parse_str(&running.id).expect("the run id is a UUID"))
            .fetch_one(&service.db.pool)
            .await
            .expect("the run is stored");
    assert_eq!(running.state, "running");
    assert_eq!(state, "failed");
    let error = error.expect("the failure has a reason");
    assert!(error.contains("the service stopped"), "{error}");
    service.stop().await;
    simulator.shutdown().await;
}
