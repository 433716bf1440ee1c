//! Orders queued for approval: PENDING until an Entrust administrator approves, then issued by
//! the poller without any request.

use std::collections::HashSet;

use certitude_proto::events::v1::{CertificateIssued, OrderCreated, OrderStatusChanged};

use crate::creating::public_key_of;
use crate::support::{Harness, payloads};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_order_is_issued_by_the_poller() {
    let harness = Harness::start().await;
    let mut request = harness.order_request("queued", "www.example.net");
    request.queue_for_approval = true;

    let order = harness
        .client
        .clone()
        .create_order(request)
        .await
        .expect("the order is queued")
        .into_inner();
    assert_eq!(order.status, "PENDING");
    assert!(order.certificate_id.is_empty());

    harness
        .sim
        .approve(order.tracking_id)
        .expect("the simulator approves the order");
    let issued = harness.wait_for_status(&order.id, "ISSUED").await;

    assert_eq!(issued.tracking_id, order.tracking_id);
    assert_eq!(issued.entrust_status, "ACTIVE");
    assert!(!issued.certificate_id.is_empty());
    let events = harness.published_events().await;
    let created: Vec<_> = payloads::<OrderCreated>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    let changed: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    let certificates: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1.status, "PENDING");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].1.previous_status, "PENDING");
    assert_eq!(changed[0].1.status, "ISSUED");
    let distinct: HashSet<&String> = certificates.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), 1);
    assert_eq!(certificates.len(), 1);
    let key = harness.keys.key_for("queued").expect("a key was generated");
    assert_eq!(certificates[0].1.certificate_id, issued.certificate_id);
    assert_eq!(certificates[0].1.order_status, "ISSUED");
    assert_eq!(
        public_key_of(&certificates[0].1.certificate_pem, false),
        public_key_of(&key.csr_pem, true)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_issue_each_approved_order_once() {
    let harness = Harness::start().await;
    let replica = harness.start_replica().await;
    let mut orders = Vec::new();
    for index in 0..4 {
        let mut request = harness.order_request(&format!("replicated-{index}"), "www.example.com");
        request.queue_for_approval = true;
        let order = harness
            .client
            .clone()
            .create_order(request)
            .await
            .expect("the order is queued")
            .into_inner();
        orders.push(order);
    }

    for order in &orders {
        harness
            .sim
            .approve(order.tracking_id)
            .expect("the simulator approves the order");
    }
    for order in &orders {
        harness.wait_for_status(&order.id, "ISSUED").await;
    }

    let events = harness.published_events().await;
    let certificates = payloads::<CertificateIssued>(&events);
    let changes = payloads::<OrderStatusChanged>(&events);
    let certified: HashSet<&String> = certificates.iter().map(|(_, e)| &e.order_id).collect();
    assert_eq!(certificates.len(), orders.len(), "{certificates:?}");
    assert_eq!(certified.len(), orders.len());
    assert_eq!(changes.len(), orders.len());
    replica.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_order_becomes_declined() {
    let harness = Harness::start().await;
    let mut request = harness.order_request("to-decline", "www.example.com");
    request.queue_for_approval = true;
    let order = harness
        .client
        .clone()
        .create_order(request)
        .await
        .expect("the order is queued")
        .into_inner();

    harness
        .sim
        .decline(order.tracking_id, Some("Not needed."))
        .expect("the simulator declines the order");
    let declined = harness.wait_for_status(&order.id, "DECLINED").await;

    assert_eq!(declined.entrust_status, "DECLINED");
    assert!(declined.certificate_id.is_empty());
    let events = harness.published_events().await;
    let certificates = payloads::<CertificateIssued>(&events);
    assert!(certificates.is_empty(), "{certificates:?}");
    harness.stop().await;
}
