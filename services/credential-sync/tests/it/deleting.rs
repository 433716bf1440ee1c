//! DeleteCredential: rejected while order-manager still has orders for the credential, unless
//! forced; a deletion removes the secrets and the catalog and emits CredentialRemoved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use certitude_credential_sync::{OrderCountError, OrderCounter};
use certitude_proto::credential::v1::{
    CatalogRequest, Credential, DeleteCredentialRequest, GetCredentialRequest,
};
use certitude_proto::events::v1::CredentialRemoved;
use entrust_sim::{Fault, FaultKind, Scenario};
use tonic::Code;
use uuid::Uuid;

use crate::support::{TestService, demo_request, finished_run, first_run, start_simulator};

/// Replaces order-manager: counts `orders` orders for every credential.
#[derive(Debug, Default)]
struct FixedOrders {
    orders: AtomicU64,
    calls: AtomicU64,
}

#[async_trait]
impl OrderCounter for FixedOrders {
    async fn count_orders(&self, _credential_id: Uuid) -> Result<u64, OrderCountError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.orders.load(Ordering::SeqCst))
    }
}

fn delete(id: &str, force: bool) -> DeleteCredentialRequest {
    DeleteCredentialRequest {
        id: id.to_owned(),
        force,
    }
}

async fn add_synced(service: &mut TestService, url: &str) -> Credential {
    let credential = service
        .client
        .add_credential(demo_request("demo", url))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    credential
}

async fn rows(service: &TestService, table: &str) -> i64 {
    let statement = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .fetch_one(&service.db.pool)
        .await
        .expect("the table can be counted")
}

#[tokio::test]
async fn delete_is_rejected_while_orders_use_the_credential() {
    let simulator = start_simulator(Scenario::demo()).await;
    let orders = Arc::new(FixedOrders::default());
    orders.orders.store(3, Ordering::SeqCst);
    let mut service = TestService::start_with_orders(orders.clone()).await;
    let credential = add_synced(&mut service, &simulator.base_url()).await;

    let status = service
        .client
        .delete_credential(delete(&credential.id, false))
        .await
        .expect_err("three orders use the credential");

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("is used by 3 order(s)"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("set force"),
        "{}",
        status.message()
    );
    assert_eq!(orders.calls.load(Ordering::SeqCst), 1);
    assert_eq!(rows(&service, "credentials").await, 1);
    assert!(rows(&service, "domains").await > 0);
    assert!(service.published::<CredentialRemoved>().await.is_empty());
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn forced_delete_removes_credential_and_catalog() {
    let simulator = start_simulator(Scenario::demo()).await;
    let orders = Arc::new(FixedOrders::default());
    orders.orders.store(3, Ordering::SeqCst);
    let mut service = TestService::start_with_orders(orders.clone()).await;
    let credential = add_synced(&mut service, &simulator.base_url()).await;

    let deleted = service
        .client
        .delete_credential(delete(&credential.id, true))
        .await
        .expect("force deletes despite the orders")
        .into_inner();

    assert_eq!(deleted.id, credential.id);
    assert_eq!(orders.calls.load(Ordering::SeqCst), 0);
    let status = service
        .client
        .get_credential(GetCredentialRequest {
            id: credential.id.clone(),
        })
        .await
        .expect_err("the credential is gone");
    assert_eq!(status.code(), Code::NotFound);
    let catalog = service
        .client
        .list_domains(CatalogRequest {
            credential_id: credential.id.clone(),
            ..CatalogRequest::default()
        })
        .await
        .expect_err("the catalog went with the credential");
    assert_eq!(catalog.code(), Code::NotFound);
    for table in [
        "credentials",
        "organizations",
        "domains",
        "products",
        "sync_runs",
    ] {
        assert_eq!(rows(&service, table).await, 0, "{table}");
    }
    let removed = service.published::<CredentialRemoved>().await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].credential_id, credential.id);
    assert_eq!(removed[0].name, "demo");
    assert!(removed[0].forced);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn delete_without_orders_needs_no_force() {
    let simulator = start_simulator(Scenario::demo()).await;
    let orders = Arc::new(FixedOrders::default());
    let mut service = TestService::start_with_orders(orders.clone()).await;
    let credential = add_synced(&mut service, &simulator.base_url()).await;

    service
        .client
        .delete_credential(delete(&credential.id, false))
        .await
        .expect("no order uses the credential");
    let again = service
        .client
        .delete_credential(delete(&credential.id, false))
        .await
        .expect_err("the credential is gone");

    assert_eq!(orders.calls.load(Ordering::SeqCst), 1);
    assert_eq!(again.code(), Code::NotFound);
    let removed = service.published::<CredentialRemoved>().await;
    assert_eq!(removed.len(), 1);
    assert!(!removed[0].forced);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn delete_waits_for_unreachable_order_manager() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = add_synced(&mut service, &simulator.base_url()).await;

    let status = service
        .client
        .delete_credential(delete(&credential.id, false))
        .await
        .expect_err("nothing listens at the order-manager URL");

    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("could not be counted"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("set force"),
        "{}",
        status.message()
    );
    assert_eq!(rows(&service, "credentials").await, 1);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn delete_during_a_sync_leaves_no_catalog() {
    let simulator = start_simulator(Scenario::demo()).await;
    let orders = Arc::new(FixedOrders::default());
    let mut service = TestService::start_with_orders(orders.clone()).await;
    // The first sync waits a second for the domain list, while the deletion arrives.
    simulator
        .inject_fault(Fault {
            kind: FaultKind::Latency { delay_ms: 1000 },
            count: Some(1),
            method: Some("GET".to_owned()),
            path_prefix: Some("/domains".to_owned()),
        })
        .expect("the fault is armed");
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    service
        .client
        .delete_credential(delete(&credential.id, false))
        .await
        .expect("no order uses the credential");

    for table in [
        "credentials",
        "organizations",
        "domains",
        "products",
        "sync_runs",
    ] {
        assert_eq!(rows(&service, table).await, 0, "{table}");
    }
    service.stop().await;
    simulator.shutdown().await;
}
