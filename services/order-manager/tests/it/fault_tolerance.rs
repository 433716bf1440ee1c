//! Faults around placing and polling orders: one idempotency key sent twice at once, throttled
//! and failing status checks, and two replicas polling the same pending orders. The poller
//! tests run the service on a manual clock, so an order comes due only when the test moves the
//! clock, and each move is one poll round.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use certitude_platform::clock::ManualClock;
use certitude_proto::order::v1::Order;
use entrust_sim::{Fault, FaultKind, LoggedRequest};
use time::OffsetDateTime;

use crate::reconciling::entrust_order_count;
use crate::support::{Harness, eventually};

fn manual_clock() -> ManualClock {
    ManualClock::new(
        OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 ns is valid"),
    )
}

/// Starts the service on `clock`, with the test defaults and `settings`.
async fn start_on(clock: &ManualClock, settings: &[(&str, &str)]) -> Harness {
    Harness::start_on_clock(settings, clock.shared(), |client| Arc::new(client)).await
}

/// Places an order that waits for approval at Entrust.
async fn queued_order(harness: &Harness, idempotency_key: &str) -> Order {
    let mut request = harness.order_request(idempotency_key, "www.example.com");
    request.queue_for_approval = true;
    let order = harness
        .client
        .clone()
        .create_order(request)
        .await
        .expect("the order is queued")
        .into_inner();
    assert_eq!(order.status, "PENDING", "{order:?}");
    order
}

/// Returns the status checks in `log` (`GET /certificates/{trackingId}`), by tracking id.
fn status_checks(log: &[LoggedRequest]) -> BTreeMap<i64, Vec<&LoggedRequest>> {
    let mut checks: BTreeMap<i64, Vec<&LoggedRequest>> = BTreeMap::new();
    for request in log {
        if request.method != "GET" {
            continue;
        }
        let Some(last) = request.path.strip_prefix("/enterprise/v2/certificates/") else {
            continue;
        };
        if let Ok(tracking_id) = last.parse::<i64>() {
            checks.entry(tracking_id).or_default().push(request);
        }
    }
    checks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_same_key_places_one_order() {
    let harness = Harness::start().await;
    let before = entrust_order_count(&harness).await;
    let request = harness.order_request("sent-twice", "www.example.org");

    let mut first_client = harness.client.clone();
    let mut second_client = harness.client.clone();
    let (first, second) = tokio::join!(
        first_client.create_order(request.clone()),
        second_client.create_order(request),
    );
    let first = first.expect("the first request succeeds").into_inner();
    let second = second.expect("the second request succeeds").into_inner();
    let issued = harness.wait_for_status(&first.id, "ISSUED").await;

    assert_eq!(second.id, first.id);
    assert_eq!(
        issued.tracking_id,
        first.tracking_id.max(second.tracking_id)
    );
    let posts = harness.order_posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(harness.all_orders(50).await.len(), 1);
    assert_eq!(entrust_order_count(&harness).await, before + 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_failing_polls_end_issued() {
    let clock = manual_clock();
    let harness = start_on(&clock, &[]).await;
    let order = queued_order(&harness, "stormy").await;
    // The first three status checks are throttled and the next two fail; the sixth reads the
    // approved order.
    let checks = |kind: FaultKind, count: u32| Fault {
        kind,
        count: Some(count),
        method: Some("GET".to_owned()),
        path_prefix: Some("/certificates/".to_owned()),
    };
    let throttled = checks(
        FaultKind::RateLimit {
            retry_after_seconds: 1,
        },
        3,
    );
    let failing = checks(FaultKind::ServerError { status: 503 }, 2);
    harness
        .sim
        .inject_fault(throttled)
        .expect("the rate-limit fault is armed");
    harness
        .sim
        .inject_fault(failing)
        .expect("the server-error fault is armed");
    harness
        .sim
        .approve(order.tracking_id)
        .expect("the simulator approves the order");

    // Each move of the clock passes the longest backoff, so the order comes due once more.
    eventually("the order is issued", || async {
        clock.advance(time::Duration::seconds(1));
        harness.get_order(&order.id).await.status == "ISSUED"
    })
    .await;
    let log = harness.stop_with_request_log().await;

    let checks = status_checks(&log);
    let statuses: Vec<u16> = checks
        .get(&order.tracking_id)
        .map(|requests| requests.iter().map(|request| request.status).collect())
        .unwrap_or_default();
    assert_eq!(statuses, [429, 429, 429, 503, 503, 200]);
    assert_eq!(checks.len(), 1, "only the order's own status was checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_check_each_order_once_per_round() {
    const ORDERS: usize = 20;
    const ROUNDS: usize = 3;
    let clock = manual_clock();
    // Batches of five make the replicas claim turn about, and slow status checks keep each
    // claim open while the other replica claims, which is when a broken claim would show.
    let harness = start_on(&clock, &[("CERTITUDE_ORDER_POLL_BATCH_SIZE", "5")]).await;
    let mut tracking_ids = Vec::new();
    for index in 0..ORDERS {
        let order = queued_order(&harness, &format!("polled-{index}")).await;
        tracking_ids.push(order.tracking_id);
    }
    harness
        .sim
        .inject_fault(Fault {
            kind: FaultKind::Latency { delay_ms: 100 },
            count: None,
            method: Some("GET".to_owned()),
            path_prefix: Some("/certificates/".to_owned()),
        })
        .expect("the latency fault is armed");
    let replica = harness.start_replica().await;

    for round in 1..=ROUNDS {
        // The orders' next checks lie at most the maximum backoff (500 ms) ahead.
        clock.advance(time::Duration::seconds(1));
        eventually(
            &format!("every order was checked in round {round}"),
            || async {
                let log = harness.sim.request_log();
                let checks = status_checks(&log);
                tracking_ids.iter().all(|id| {
                    checks
                        .get(id)
                        .is_some_and(|requests| requests.len() >= round)
                })
            },
        )
        .await;
    }
    // Stopping both replicas waits for every check in flight, so a duplicate is in the log.
    replica.stop().await;
    let log = harness.stop_with_request_log().await;

    let checks = status_checks(&log);
    let checked: HashSet<i64> = checks.keys().copied().collect();
    let placed: HashSet<i64> = tracking_ids.iter().copied().collect();
    assert_eq!(checked, placed);
    for tracking_id in &tracking_ids {
        let count = checks.get(tracking_id).map_or(0, Vec::len);
        assert_eq!(count, ROUNDS, "status checks of order {tracking_id}");
    }
}
