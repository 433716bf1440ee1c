//! Renewals and reissues: new orders linked to the order they replace, placed without
//! duplicates, with the replaced order superseded and the new certificate announced as its
//! replacement.

use certitude_proto::events::v1::{CertificateIssued, OrderCreated, OrderStatusChanged};
use certitude_proto::order::v1::{Order, ReissueOrderRequest, RenewOrderRequest};
use entrust::model::OrderStatus;
use tonic::{Code, Status};

use crate::admin_support::AdminHarness;
use crate::creating::public_key_of;
use crate::support::{eventually, payloads};

fn renewal(order_id: &str, idempotency_key: &str, reuse_key: bool) -> RenewOrderRequest {
    RenewOrderRequest {
        id: order_id.to_owned(),
        idempotency_key: idempotency_key.to_owned(),
        reuse_key,
        actor: "renewal-bot".to_owned(),
        ..RenewOrderRequest::default()
    }
}

async fn renew(harness: &AdminHarness, request: RenewOrderRequest) -> Result<Order, Status> {
    harness
        .orders
        .clone()
        .renew_order(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn reissue(harness: &AdminHarness, order_id: &str, key: &str) -> Result<Order, Status> {
    harness
        .orders
        .clone()
        .reissue_order(ReissueOrderRequest {
            id: order_id.to_owned(),
            idempotency_key: key.to_owned(),
            actor: "ops-lead".to_owned(),
            ..ReissueOrderRequest::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Places an order with the administrator credential and ages its certificate past the 30 days
/// after which Entrust renews it.
async fn aged_order(harness: &AdminHarness, idempotency_key: &str) -> Order {
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order(idempotency_key, &admin).await;
    harness.clock.advance(time::Duration::days(31));
    order
}

fn renewal_posts(harness: &AdminHarness) -> usize {
    harness
        .order_changes()
        .iter()
        .filter(|request| request.path.ends_with("/renewals"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_gets_a_new_key_and_supersedes() {
    let harness = AdminHarness::start().await;
    let previous = aged_order(&harness, "first").await;

    let renewed = renew(&harness, renewal(&previous.id, "renew-1", false))
        .await
        .expect("the certificate is old enough to renew");

    assert_eq!(renewed.status, "ISSUED");
    assert_eq!(renewed.renews_order_id, previous.id);
    assert_ne!(renewed.tracking_id, previous.tracking_id);
    assert_ne!(renewed.key_id, previous.key_id);
    let new_key = harness
        .keys
        .key_for("renew-1")
        .expect("a new key was generated");
    assert_eq!(renewed.key_id, new_key.key_id);
    let superseded = harness.get_order(&previous.id).await.expect("still listed");
    assert_eq!(superseded.status, "SUPERSEDED");
    assert_eq!(
        harness.at_entrust(previous.tracking_id).await.status,
        OrderStatus::Renewed
    );
    let at_entrust = harness.at_entrust(renewed.tracking_id).await;
    assert_eq!(at_entrust.status, OrderStatus::Active);
    let certificate = at_entrust.certificate_pem.expect("the renewal is issued");
    assert_eq!(
        public_key_of(&certificate, false),
        public_key_of(&new_key.csr_pem, true)
    );

    let events = harness.published_events().await;
    let issued: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == renewed.id)
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].1.replaces_certificate_id, previous.certificate_id);
    assert_eq!(issued[0].1.replacement, "renewal");
    assert_eq!(issued[0].1.certificate_id, renewed.certificate_id);
    let created: Vec<_> = payloads::<OrderCreated>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == renewed.id)
        .collect();
    assert_eq!(created.len(), 1);
    let superseding: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == previous.id)
        .collect();
    assert_eq!(superseding.len(), 1);
    assert_eq!(superseding[0].1.status, "SUPERSEDED");
    assert_eq!(superseding[0].1.entrust_status, "RENEWED");

    let previous_history = harness.history(&previous.id).await;
    let last = previous_history.last().expect("the renewal is recorded");
    assert_eq!(last.action, "renew");
    assert_eq!(last.outcome, "superseded");
    assert_eq!(last.actor, "renewal-bot");
    let renewal_history = harness.history(&renewed.id).await;
    assert_eq!(renewal_history[0].action, "renew");
    assert_eq!(renewal_history[0].outcome, "stored");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_with_reuse_key_keeps_the_key() {
    let harness = AdminHarness::start().await;
    let previous = aged_order(&harness, "first").await;

    let renewed = renew(&harness, renewal(&previous.id, "renew-same-key", true))
        .await
        .expect("the certificate is old enough to renew");

    assert_eq!(renewed.status, "ISSUED");
    assert_eq!(renewed.key_id, previous.key_id);
    assert!(harness.keys.key_for("renew-same-key").is_none());
    let previous_key = harness.keys.key_for("first").expect("the first key exists");
    let certificate = harness
        .at_entrust(renewed.tracking_id)
        .await
        .certificate_pem
        .expect("the renewal is issued");
    assert_eq!(
        public_key_of(&certificate, false),
        public_key_of(&previous_key.csr_pem, true)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_renewal_names_the_date() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("young", &admin).await;
    harness.clock.advance(time::Duration::days(10));

    let error = renew(&harness, renewal(&order.id, "renew-early", false))
        .await
        .expect_err("the certificate is 10 days old");

    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(
        error.message().contains("less than 30 days ago"),
        "{error:?}"
    );
    let at_entrust = harness.at_entrust(order.tracking_id).await;
    let issued_at = at_entrust
        .issued_at
        .expect("the simulator reports the issue time");
    let renewable_from = (issued_at + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("the date formats");
    assert!(
        error
            .message()
            .contains(&format!("renew it from {renewable_from}")),
        "{error:?} should name {renewable_from}"
    );
    assert_eq!(renewal_posts(&harness), 0);
    let unchanged = harness
        .get_order(&order.id)
        .await
        .expect("the order exists");
    assert_eq!(unchanged.status, "ISSUED");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_renewal_key_renews_once() {
    let harness = AdminHarness::start().await;
    let previous = aged_order(&harness, "first").await;

    let first = renew(&harness, renewal(&previous.id, "renew-once", false))
        .await
        .expect("the renewal is placed");
    let second = renew(&harness, renewal(&previous.id, "renew-once", false))
        .await
        .expect("the repeat returns the renewal");

    assert_eq!(second.id, first.id);
    assert_eq!(second.tracking_id, first.tracking_id);
    assert_eq!(renewal_posts(&harness), 1);
    let renewals: Vec<Order> = harness
        .orders
        .clone()
        .list_orders(certitude_proto::order::v1::ListOrdersRequest::default())
        .await
        .expect("listing works")
        .into_inner()
        .orders
        .into_iter()
        .filter(|order| order.renews_order_id == previous.id)
        .collect();
    assert_eq!(renewals.len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_renewal_response_is_reconciled() {
    let harness = AdminHarness::start().await;
    let previous = aged_order(&harness, "first").await;
    harness.loss.lose_next_renewal();

    let submitting = renew(&harness, renewal(&previous.id, "renew-lost", false))
        .await
        .expect("an unknown outcome is not an error");
    let repeated = renew(&harness, renewal(&previous.id, "renew-lost", false))
        .await
        .expect("the repeat returns the renewal being reconciled");
    assert_eq!(submitting.status, "SUBMITTING");
    assert_eq!(repeated.id, submitting.id);
    assert_eq!(renewal_posts(&harness), 1);

    // The reconciler looks for the renewal once the poll interval passed on the shared clock.
    harness.clock.advance(time::Duration::seconds(1));
    eventually("the renewal is found by its marker", || async {
        let order = harness.get_order(&submitting.id).await.expect("listed");
        order.status == "ISSUED"
    })
    .await;

    let renewed = harness.get_order(&submitting.id).await.expect("listed");
    assert_eq!(renewal_posts(&harness), 1);
    assert_eq!(renewed.renews_order_id, previous.id);
    let superseded = harness.get_order(&previous.id).await.expect("listed");
    assert_eq!(superseded.status, "SUPERSEDED");
    let events = harness.published_events().await;
    let issued: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == renewed.id)
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].1.replacement, "renewal");
    assert_eq!(issued[0].1.replaces_certificate_id, previous.certificate_id);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reissue_supersedes_the_original() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let original = harness.issued_order("original", &admin).await;

    let reissued = reissue(&harness, &original.id, "reissue-1")
        .await
        .expect("an issued certificate can be reissued at once");

    assert_eq!(reissued.status, "ISSUED");
    assert_eq!(reissued.reissue_of_order_id, original.id);
    assert!(reissued.renews_order_id.is_empty());
    assert_ne!(reissued.tracking_id, original.tracking_id);
    assert_ne!(reissued.key_id, original.key_id);
    assert_eq!(reissued.not_after, original.not_after);
    let superseded = harness.get_order(&original.id).await.expect("listed");
    assert_eq!(superseded.status, "SUPERSEDED");
    assert_eq!(superseded.entrust_status, "REISSUED");
    assert_eq!(
        harness.at_entrust(original.tracking_id).await.status,
        OrderStatus::Reissued
    );
    let revocation = harness
        .sim
        .revocation(original.tracking_id)
        .expect("the order exists")
        .expect("a reissue revokes the original certificate");
    assert_eq!(revocation.reason, "superseded");

    let events = harness.published_events().await;
    let issued: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == reissued.id)
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].1.replacement, "reissue");
    assert_eq!(issued[0].1.replaces_certificate_id, original.certificate_id);
    let superseding: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == original.id)
        .collect();
    assert_eq!(superseding.len(), 1);
    assert_eq!(superseding[0].1.status, "SUPERSEDED");
    let original_steps: Vec<(String, String, String)> = harness
        .history(&original.id)
        .await
        .into_iter()
        .map(|entry| (entry.action, entry.outcome, entry.actor))
        .collect();
    assert_eq!(
        original_steps[2..],
        [
            (
                "reissue".to_owned(),
                "requested".to_owned(),
                "ops-lead".to_owned()
            ),
            (
                "reissue".to_owned(),
                "superseded".to_owned(),
                "ops-lead".to_owned()
            ),
        ]
    );
    let reissue_steps: Vec<(String, String)> = harness
        .history(&reissued.id)
        .await
        .into_iter()
        .map(|entry| (entry.action, entry.outcome))
        .collect();
    assert_eq!(
        reissue_steps,
        [
            ("reissue".to_owned(), "stored".to_owned()),
            ("reissue".to_owned(), "issued".to_owned()),
        ]
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reissue_response_is_not_resent() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let original = harness.issued_order("original", &admin).await;
    harness.loss.lose_next_reissue();

    let submitting = reissue(&harness, &original.id, "reissue-lost")
        .await
        .expect("an unknown outcome is not an error");
    let other_key = reissue(&harness, &original.id, "reissue-other")
        .await
        .expect_err("a second reissue waits for the first");
    harness.clock.advance(time::Duration::seconds(1));
    eventually("the reissue is found by its marker", || async {
        let order = harness.get_order(&submitting.id).await.expect("listed");
        order.status == "ISSUED"
    })
    .await;

    assert_eq!(submitting.status, "SUBMITTING");
    assert_eq!(other_key.code(), Code::FailedPrecondition);
    assert!(
        other_key.message().contains("still SUBMITTING"),
        "{other_key:?}"
    );
    let reissues = harness
        .order_changes()
        .iter()
        .filter(|request| request.path.ends_with("/reissues"))
        .count();
    assert_eq!(reissues, 1);
    let superseded = harness.get_order(&original.id).await.expect("listed");
    assert_eq!(superseded.status, "SUPERSEDED");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_rejected_by_entrust_marks_the_credential() {
    let harness = AdminHarness::start().await;
    let claimed_admin = harness.credentials.claimed_admin.clone();
    let order = harness.issued_order("claimed", &claimed_admin).await;
    harness.clock.advance(time::Duration::days(31));

    let error = renew(&harness, renewal(&order.id, "renew-rejected", false))
        .await
        .expect_err("Entrust rejects a requester's renewal");

    assert_eq!(error.code(), Code::PermissionDenied);
    assert!(
        error
            .message()
            .starts_with("the Entrust user lacks administrator rights"),
        "{error:?}"
    );
    let credential = harness.credential(&claimed_admin).await;
    assert!(credential.lacks_administrator_right, "{credential:?}");
    assert_eq!(
        credential.denied_administrator_action,
        format!("renew order {}", order.tracking_id)
    );
    let unchanged = harness.get_order(&order.id).await.expect("listed");
    assert_eq!(unchanged.status, "ISSUED");
    harness.stop().await;
}
