//! Deleting orders from Certitude only, the tombstone that keeps a later import from bringing
//! them back unless asked, and the order history.

use certitude_proto::events::v1::{OrderDeleted, OrderImported};
use certitude_proto::order::v1::{
    DeleteOrderRequest, GetImportJobRequest, ImportJob, ListOrdersRequest, StartImportRequest,
    SuspendOrderRequest,
};
use tonic::Code;

use crate::admin_support::AdminHarness;
use crate::support::{eventually, payloads};

async fn import(harness: &AdminHarness, credential_id: &str, restore_deleted: bool) -> ImportJob {
    let job = harness
        .orders
        .clone()
        .start_import(StartImportRequest {
            credential_id: credential_id.to_owned(),
            restore_deleted,
        })
        .await
        .expect("the import starts")
        .into_inner();
    assert_eq!(job.restore_deleted, restore_deleted);
    eventually("the import finishes", || async {
        current_job(harness, &job.id).await.state != "running"
    })
    .await;
    let finished = current_job(harness, &job.id).await;
    assert_eq!(finished.state, "succeeded", "{finished:?}");
    finished
}

async fn current_job(harness: &AdminHarness, id: &str) -> ImportJob {
    harness
        .orders
        .clone()
        .get_import_job(GetImportJobRequest { id: id.to_owned() })
        .await
        .expect("the job exists")
        .into_inner()
}

async fn listed_ids(harness: &AdminHarness, credential_id: &str) -> Vec<String> {
    harness
        .orders
        .clone()
        .list_orders(ListOrdersRequest {
            page_size: 500,
            credential_id: credential_id.to_owned(),
            ..ListOrdersRequest::default()
        })
        .await
        .expect("listing works")
        .into_inner()
        .orders
        .into_iter()
        .map(|order| order.id)
        .collect()
}

fn delete(id: &str) -> DeleteOrderRequest {
    DeleteOrderRequest {
        id: id.to_owned(),
        actor: "cleanup-admin".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_order_is_gone_from_certitude_only() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("to-delete", &admin).await;
    let requests_before = harness.sim.request_log().len();

    let deleted = harness
        .orders
        .clone()
        .delete_order(delete(&order.id))
        .await
        .expect("the order is deleted")
        .into_inner();

    assert_eq!(deleted.id, order.id);
    assert_eq!(deleted.status, "ISSUED");
    let lookup = harness
        .get_order(&order.id)
        .await
        .expect_err("a deleted order is not shown");
    assert_eq!(lookup.code(), Code::NotFound);
    assert!(!listed_ids(&harness, &admin).await.contains(&order.id));
    assert_eq!(harness.sim.request_log().len(), requests_before);
    let at_entrust = harness.at_entrust(order.tracking_id).await;
    assert_eq!(at_entrust.status, entrust::model::OrderStatus::Active);
    let events = harness.published_events().await;
    let deletions = payloads::<OrderDeleted>(&events);
    assert_eq!(deletions.len(), 1);
    let event = &deletions[0].1;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.credential_id, admin);
    assert_eq!(event.tracking_id, order.tracking_id);
    assert_eq!(event.certificate_id, order.certificate_id);
    assert_eq!(event.actor, "cleanup-admin");
    let history = harness.history(&order.id).await;
    let step = history.last().expect("the deletion is recorded");
    assert_eq!(step.action, "delete");
    assert_eq!(step.actor, "cleanup-admin");
    assert_eq!(step.outcome, "deleted");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_order_is_not_found() {
    let harness = AdminHarness::start().await;

    let error = harness
        .orders
        .clone()
        .delete_order(delete("0191d2a0-0000-7000-8000-000000000000"))
        .await
        .expect_err("no such order");
    let twice = {
        let admin = harness.credentials.admin.clone();
        let order = harness.issued_order("deleted-twice", &admin).await;
        harness
            .orders
            .clone()
            .delete_order(delete(&order.id))
            .await
            .expect("the first deletion works");
        harness
            .orders
            .clone()
            .delete_order(delete(&order.id))
            .await
            .expect_err("the order is gone")
    };

    assert_eq!(error.code(), Code::NotFound);
    assert!(
        error
            .message()
            .contains("0191d2a0-0000-7000-8000-000000000000"),
        "{error:?}"
    );
    assert_eq!(twice.code(), Code::NotFound);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_skips_deleted_order_unless_restoring() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("to-restore", &admin).await;
    harness
        .orders
        .clone()
        .delete_order(delete(&order.id))
        .await
        .expect("the order is deleted");

    import(&harness, &admin, false).await;
    let skipped = harness.get_order(&order.id).await;
    let listed_after_skip = listed_ids(&harness, &admin).await;
    import(&harness, &admin, true).await;
    let restored = harness
        .get_order(&order.id)
        .await
        .expect("the restoring import brings it back");

    assert_eq!(skipped.expect_err("still deleted").code(), Code::NotFound);
    assert!(!listed_after_skip.contains(&order.id));
    assert_eq!(restored.tracking_id, order.tracking_id);
    assert_eq!(restored.status, "ISSUED");
    assert_eq!(restored.certificate_id, order.certificate_id);
    assert!(listed_ids(&harness, &admin).await.contains(&order.id));
    let imported_with_same_tracking_id: usize = sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM orders WHERE credential_id = $1 AND tracking_id = $2",
    )
    .bind(&admin)
    .bind(order.tracking_id)
    .fetch_one(&harness.db.pool)
    .await
    .expect("orders can be counted")
    .try_into()
    .expect("a count is not negative");
    assert_eq!(imported_with_same_tracking_id, 1);
    let events = harness.published_events().await;
    let announced: Vec<_> = payloads::<OrderImported>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    assert_eq!(announced.len(), 1);
    let history = harness.history(&order.id).await;
    let step = history.last().expect("the restore is recorded");
    assert_eq!(step.action, "restore");
    assert_eq!(step.actor, "import");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_every_step() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("with-history", &admin).await;
    harness
        .orders
        .clone()
        .suspend_order(SuspendOrderRequest {
            id: order.id.clone(),
            actor: "ops-lead".to_owned(),
            ..SuspendOrderRequest::default()
        })
        .await
        .expect("the order is suspended");

    let history = harness.history(&order.id).await;

    let steps: Vec<(&str, &str, &str, &str, &str)> = history
        .iter()
        .map(|entry| {
            (
                entry.actor.as_str(),
                entry.action.as_str(),
                entry.from_status.as_str(),
                entry.to_status.as_str(),
                entry.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("integration-test", "create", "", "SUBMITTING", "stored"),
            (
                "integration-test",
                "submit",
                "SUBMITTING",
                "ISSUED",
                "issued"
            ),
            ("ops-lead", "suspend", "ISSUED", "SUSPENDED", "suspended"),
        ]
    );
    assert!(history.iter().all(|entry| !entry.at.is_empty()));
    let unknown = harness
        .orders
        .clone()
        .get_order_history(certitude_proto::order::v1::GetOrderHistoryRequest {
            id: "0191d2a0-0000-7000-8000-000000000000".to_owned(),
        })
        .await
        .expect_err("no such order");
    assert_eq!(unknown.code(), Code::NotFound);
    harness.stop().await;
}
