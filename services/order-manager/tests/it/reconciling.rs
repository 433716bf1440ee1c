//! Submissions whose outcome is lost: the reconciler finds the order at Entrust by its marker,
//! or submits it again only when Entrust has none after the reconcile window.

use certitude_proto::events::v1::{CertificateIssued, OrderCreated};
use entrust::model::OrderQuery;
use entrust_sim::{CommitFailure, Fault, FaultKind};

use crate::support::{Harness, payloads};

fn fault_on_next_order(kind: FaultKind) -> Fault {
    Fault {
        kind,
        count: Some(1),
        method: Some("POST".to_owned()),
        path_prefix: Some("/certificates".to_owned()),
    }
}

/// Returns how many Entrust orders carry `marker`.
async fn entrust_orders_with_marker(harness: &Harness, marker: &str) -> usize {
    let query = OrderQuery {
        tracking_marker: Some(marker.to_owned()),
        ..OrderQuery::default()
    };
    harness
        .entrust
        .all_orders(query)
        .await
        .expect("the simulator lists orders")
        .len()
}

/// Returns how many orders (and third-party records) the simulator lists.
pub async fn entrust_order_count(harness: &Harness) -> usize {
    harness
        .entrust
        .all_orders(OrderQuery::default())
        .await
        .expect("the simulator lists orders")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_order_with_lost_response_is_adopted() {
    adopts_committed_order(CommitFailure::ServerError).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_order_with_dropped_connection_is_adopted() {
    adopts_committed_order(CommitFailure::DropConnection).await;
}

/// Lets the simulator commit the next order and then fail its response with `outcome`, and
/// checks that exactly one order exists at Entrust and in Certitude once it is ISSUED.
async fn adopts_committed_order(outcome: CommitFailure) {
    let harness = Harness::start().await;
    let orders_before = entrust_order_count(&harness).await;
    harness
        .sim
        .inject_fault(fault_on_next_order(FaultKind::CommitThenFail { outcome }))
        .expect("the fault is armed");

    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("lost-reply", "www.example.com"))
        .await
        .expect("an unknown outcome is not an error")
        .into_inner();
    assert_eq!(order.status, "SUBMITTING");
    assert!(order.error.contains("unknown"), "{order:?}");

    let issued = harness.wait_for_status(&order.id, "ISSUED").await;

    assert!(issued.tracking_id > 0);
    assert!(issued.error.is_empty(), "{issued:?}");
    assert_eq!(
        harness.order_posts().len(),
        1,
        "{:?}",
        harness.order_posts()
    );
    let marker = harness.submission_marker(&order.id).await;
    assert_eq!(entrust_orders_with_marker(&harness, &marker).await, 1);
    assert_eq!(entrust_order_count(&harness).await, orders_before + 1);
    let in_certitude = harness.all_orders(50).await;
    assert_eq!(in_certitude.len(), 1, "{in_certitude:?}");
    assert_eq!(in_certitude[0].id, order.id);
    let events = harness.published_events().await;
    let created: Vec<_> = payloads::<OrderCreated>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    let certificates: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1.tracking_id, issued.tracking_id);
    assert_eq!(certificates.len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_request_is_resubmitted_after_window() {
    let harness = Harness::start_with(&[("CERTITUDE_ORDER_RECONCILE_WINDOW", "1s")]).await;
    harness
        .sim
        .inject_fault(fault_on_next_order(FaultKind::ServerError { status: 503 }))
        .expect("the fault is armed");

    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("lost-request", "www.example.com"))
        .await
        .expect("an unknown outcome is not an error")
        .into_inner();
    assert_eq!(order.status, "SUBMITTING");

    let issued = harness.wait_for_status(&order.id, "ISSUED").await;

    let posts = harness.order_posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].status, 503);
    assert_eq!(posts[1].status, 201);
    let marker = harness.submission_marker(&order.id).await;
    assert_eq!(entrust_orders_with_marker(&harness, &marker).await, 1);
    let events = harness.published_events().await;
    let created = payloads::<OrderCreated>(&events);
    let certificates = payloads::<CertificateIssued>(&events);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1.tracking_id, issued.tracking_id);
    assert_eq!(certificates.len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_order_is_resubmitted_at_once() {
    // The default ten-minute window would stop this test if the reconciler waited for it.
    let harness = Harness::start().await;
    harness
        .sim
        .inject_fault(fault_on_next_order(FaultKind::RateLimit {
            retry_after_seconds: 1,
        }))
        .expect("the fault is armed");

    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("throttled", "www.example.com"))
        .await
        .expect("a throttled submission is retried in the background")
        .into_inner();
    assert_eq!(order.status, "SUBMITTING");
    assert!(order.error.contains("HTTP 429"), "{order:?}");

    let issued = harness.wait_for_status(&order.id, "ISSUED").await;

    assert!(issued.error.is_empty(), "{issued:?}");
    let posts = harness.order_posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].status, 429);
    assert_eq!(posts[1].status, 201);
    harness.stop().await;
}
