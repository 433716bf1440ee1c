//! The portal reconcile: changes made at Entrust outside Certitude (in the portal, or through
//! the API by another client) to issued and suspended orders reach Certitude's orders, their
//! history and `OrderStatusChanged`, and one replica at a time runs each round.

use certitude_platform::clock::{Clock, ManualClock};
use certitude_platform::events::Envelope;
use certitude_proto::events::v1::{CertificateIssued, CertificateRevoked, OrderStatusChanged};
use certitude_proto::order::v1::{GetOrderHistoryRequest, Order, OrderHistoryEntry};
use entrust::model::{Reissue, TrackingId};
use entrust_sim::{Fault, FaultKind, LoggedRequest};
use time::OffsetDateTime;

use crate::support::{Harness, eventually, payloads};

/// A short interval, so that a round follows each change within a fraction of a second.
const SHORT_INTERVAL: (&str, &str) = ("CERTITUDE_ORDER_PORTAL_RECONCILE_INTERVAL", "300ms");

/// Places an order that Entrust issues at once.
async fn issued_order(harness: &Harness, idempotency_key: &str) -> Order {
    let order = harness
        .client
        .clone()
        .create_order(harness.order_request(idempotency_key, "www.example.com"))
        .await
        .expect("the order is placed")
        .into_inner();
    assert_eq!(order.status, "ISSUED", "{order:?}");
    order
}

fn tracking_id(order: &Order) -> TrackingId {
    TrackingId::new(u32::try_from(order.tracking_id).expect("tracking ids fit in 32 bits"))
}

async fn history(harness: &Harness, order_id: &str) -> Vec<OrderHistoryEntry> {
    harness
        .client
        .clone()
        .get_order_history(GetOrderHistoryRequest {
            id: order_id.to_owned(),
        })
        .await
        .expect("the history is readable")
        .into_inner()
        .entries
}

/// Returns the `OrderStatusChanged` events of `order_id`, in stream order.
fn status_changes(events: &[Envelope], order_id: &str) -> Vec<OrderStatusChanged> {
    payloads::<OrderStatusChanged>(events)
        .into_iter()
        .map(|(_, event)| event)
        .filter(|event| event.order_id == order_id)
        .collect()
}

/// Asserts that the last history entry of the order is a portal reconcile from `from` to `to`.
async fn assert_reconciled(harness: &Harness, order_id: &str, from: &str, to: &str) {
    let entries = history(harness, order_id).await;
    let last = entries.last().expect("the order has a history");
    assert_eq!(last.actor, "reconciler", "{entries:?}");
    assert_eq!(last.action, "portal-reconcile", "{entries:?}");
    assert_eq!(last.from_status, from, "{entries:?}");
    assert_eq!(last.to_status, to, "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_suspension_and_revocation_are_recorded() {
    let harness = Harness::start_with(&[SHORT_INTERVAL]).await;
    let suspended = issued_order(&harness, "to-suspend").await;
    let revoked = issued_order(&harness, "to-revoke").await;
    let untouched = issued_order(&harness, "untouched").await;

    harness
        .sim
        .suspend(suspended.tracking_id)
        .expect("the simulator suspends the order");
    harness
        .sim
        .revoke(
            revoked.tracking_id,
            "keyCompromise",
            Some("Key found in a backup."),
        )
        .expect("the simulator revokes the order");
    let now_suspended = harness.wait_for_status(&suspended.id, "SUSPENDED").await;
    let now_revoked = harness.wait_for_status(&revoked.id, "REVOKED").await;

    assert_eq!(now_suspended.entrust_status, "SUSPENDED");
    assert_eq!(now_suspended.certificate_id, suspended.certificate_id);
    assert_eq!(now_revoked.entrust_status, "REVOKED");
    assert_eq!(now_revoked.certificate_id, revoked.certificate_id);
    assert_reconciled(&harness, &suspended.id, "ISSUED", "SUSPENDED").await;
    assert_reconciled(&harness, &revoked.id, "ISSUED", "REVOKED").await;
    let events = harness.published_events().await;
    let suspension = status_changes(&events, &suspended.id);
    assert_eq!(suspension.len(), 1, "{suspension:?}");
    assert_eq!(suspension[0].previous_status, "ISSUED");
    assert_eq!(suspension[0].status, "SUSPENDED");
    assert_eq!(suspension[0].entrust_status, "SUSPENDED");
    assert_eq!(suspension[0].tracking_id, suspended.tracking_id);
    assert_eq!(suspension[0].credential_id, suspended.credential_id);
    let revocation = status_changes(&events, &revoked.id);
    assert_eq!(revocation.len(), 1, "{revocation:?}");
    assert_eq!(revocation[0].previous_status, "ISSUED");
    assert_eq!(revocation[0].status, "REVOKED");
    assert_eq!(revocation[0].entrust_status, "REVOKED");
    // CertificateRevoked reports revocations Certitude requested, and this one it did not.
    assert!(payloads::<CertificateRevoked>(&events).is_empty());
    assert!(status_changes(&events, &untouched.id).is_empty());
    assert_eq!(harness.get_order(&untouched.id).await.status, "ISSUED");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_unsuspension_deactivation_and_reissue_are_recorded() {
    let harness = Harness::start_with(&[SHORT_INTERVAL]).await;
    let resumed = issued_order(&harness, "to-resume").await;
    let deactivated = issued_order(&harness, "to-deactivate").await;
    let reissued = issued_order(&harness, "to-reissue").await;

    harness
        .sim
        .suspend(resumed.tracking_id)
        .expect("the simulator suspends the order");
    harness.wait_for_status(&resumed.id, "SUSPENDED").await;
    harness
        .entrust
        .unsuspend(tracking_id(&resumed))
        .await
        .expect("Entrust unsuspends the order");
    harness
        .entrust
        .deactivate(tracking_id(&deactivated))
        .await
        .expect("Entrust deactivates the order");
    harness
        .entrust
        .reissue(tracking_id(&reissued), &Reissue::default())
        .await
        .expect("Entrust reissues the order");
    let now_resumed = harness.wait_for_status(&resumed.id, "ISSUED").await;
    let now_deactivated = harness
        .wait_for_status(&deactivated.id, "DEACTIVATED")
        .await;
    let now_superseded = harness.wait_for_status(&reissued.id, "SUPERSEDED").await;

    assert_eq!(now_resumed.entrust_status, "ACTIVE");
    assert_eq!(now_resumed.certificate_id, resumed.certificate_id);
    assert_eq!(now_deactivated.entrust_status, "DEACTIVATED");
    assert_eq!(now_superseded.entrust_status, "REISSUED");
    assert_reconciled(&harness, &resumed.id, "SUSPENDED", "ISSUED").await;
    assert_reconciled(&harness, &deactivated.id, "ISSUED", "DEACTIVATED").await;
    assert_reconciled(&harness, &reissued.id, "ISSUED", "SUPERSEDED").await;
    let events = harness.published_events().await;
    let resumption = status_changes(&events, &resumed.id);
    let moves: Vec<(&str, &str)> = resumption
        .iter()
        .map(|event| (event.previous_status.as_str(), event.status.as_str()))
        .collect();
    assert_eq!(moves, [("ISSUED", "SUSPENDED"), ("SUSPENDED", "ISSUED")]);
    let certificates: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == resumed.id)
        .collect();
    assert_eq!(
        certificates.len(),
        1,
        "unsuspending brings no new certificate"
    );
    assert_eq!(status_changes(&events, &deactivated.id).len(), 1);
    assert_eq!(status_changes(&events, &reissued.id).len(), 1);
    harness.stop().await;
}

/// Returns the listing requests of pass 1 of a round: `GET /certificates` filtered by status.
fn round_listings(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter()
        .filter(|request| {
            request.method == "GET"
                && request.path.ends_with("/certificates")
                && request
                    .query
                    .as_deref()
                    .is_some_and(|query| query.contains("status="))
        })
        .collect()
}

/// Returns when the last round ended, or `None` while none ended or one is running.
async fn last_round_end(harness: &Harness) -> Option<OffsetDateTime> {
    let row: Option<(Option<String>, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT holder, last_finished_at FROM task_leases WHERE name = 'portal-reconcile'",
    )
    .fetch_optional(&harness.db.pool)
    .await
    .expect("the lease table is readable");
    match row {
        Some((None, finished)) => finished,
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_run_one_round_per_interval() {
    let clock = ManualClock::new(
        OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 ns is valid"),
    );
    // A one-page listing per round keeps the count of listing requests equal to the rounds.
    let settings = [
        ("CERTITUDE_ORDER_PORTAL_RECONCILE_INTERVAL", "1s"),
        ("CERTITUDE_IMPORT_PAGE_SIZE", "1000"),
    ];
    let harness = Harness::start_on_clock(&settings, clock.shared(), |client| {
        std::sync::Arc::new(client)
    })
    .await;
    issued_order(&harness, "reconciled").await;
    let replica = harness.start_replica().await;
    // The first round runs when the first replica starts. Once it finished, the frozen clock
    // keeps the next one from coming due until the test moves it.
    eventually("the first round finished", || async {
        last_round_end(&harness).await.is_some()
    })
    .await;
    let before = round_listings(&harness.sim.request_log()).len();
    // Each round then lasts longer than the one second between two looks of the other replica
    // at the lease, so that replica would start a round of its own if the lease let it.
    harness
        .sim
        .inject_fault(Fault {
            kind: FaultKind::Latency { delay_ms: 1_500 },
            count: None,
            method: Some("GET".to_owned()),
            path_prefix: Some("/certificates".to_owned()),
        })
        .expect("the fault is armed");

    const ROUNDS: usize = 3;
    for round in 1..=ROUNDS {
        // More than the interval plus its jitter, so that the next round is due.
        clock.advance(time::Duration::seconds(2));
        // The clock does not move during the round, so the round ends at the clock's time.
        let due_at = clock.now();
        eventually(&format!("round {round} finished"), || async {
            last_round_end(&harness).await == Some(due_at)
        })
        .await;
    }
    replica.stop().await;
    let log = harness.stop_with_request_log().await;

    let listings = round_listings(&log);
    assert_eq!(listings.len(), before + ROUNDS, "{listings:#?}");
}
