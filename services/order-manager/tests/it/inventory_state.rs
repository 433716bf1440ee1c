//! The inventory state of orders: CertificateRejected and CertificateAddedToInventory events,
//! published on the real stream as the inventory's outbox would, recorded on the order by
//! order-manager's two durable consumers, and batches of them applied by the handler itself.

use certitude_order_manager::inventory_events::{
    ADDED_DURABLE_NAME, InventoryEventHandler, REJECTED_DURABLE_NAME,
};
use certitude_platform::consumer::{EventHandler, ReceivedEvent};
use certitude_platform::events::{self, Envelope, Event};
use certitude_proto::events::v1::{CertificateAddedToInventory, CertificateRejected};
use certitude_proto::order::v1::Order;
use uuid::Uuid;

use crate::support::{Harness, eventually};

/// The inventory's message for a certificate beyond a license of 3.
const LICENSE_MESSAGE: &str = "issued, not in the inventory: the license allows 3 certificates \
    and 3 are held; it is added when a slot frees (raise the license or remove a certificate)";

/// The order's message for a certificate beyond a license of 3.
const ORDER_MESSAGE: &str = "issued, not in inventory: license limit: the license allows 3 \
    certificates and 3 are held; it is added when a slot frees (raise the license or remove a \
    certificate)";

/// Places an order and returns it once issued, with its certificate id.
async fn issued_order(harness: &Harness, idempotency_key: &str) -> Order {
    let order = harness
        .client
        .clone()
        .create_order(harness.order_request(idempotency_key, "www.example.com"))
        .await
        .expect("the order is placed")
        .into_inner();
    let order = harness.wait_for_status(&order.id, "ISSUED").await;
    assert!(!order.certificate_id.is_empty(), "{order:?}");
    order
}

fn rejected(order_id: &str, certificate_id: &str) -> CertificateRejected {
    CertificateRejected {
        certificate_id: certificate_id.to_owned(),
        order_id: order_id.to_owned(),
        serial_number: "1A2B".to_owned(),
        reason: "license_limit".to_owned(),
        message: LICENSE_MESSAGE.to_owned(),
        licensed: 3,
        held: 3,
    }
}

fn added(order_id: &str, certificate_id: &str) -> CertificateAddedToInventory {
    CertificateAddedToInventory {
        certificate_id: certificate_id.to_owned(),
        order_id: order_id.to_owned(),
        serial_number: "1A2B".to_owned(),
        source: "order".to_owned(),
        status: "active".to_owned(),
        ..CertificateAddedToInventory::default()
    }
}

/// Builds the envelope the inventory's outbox writes for `payload`, the `sequence`-th event of
/// certificate `certificate_id`.
fn envelope<M: Event>(
    event_id: Uuid,
    certificate_id: &str,
    sequence: u64,
    payload: &M,
) -> Envelope {
    Envelope {
        event_id: event_id.to_string(),
        event_type: M::TYPE.full_name.to_owned(),
        occurred_at: Some(events::timestamp(time::OffsetDateTime::now_utc())),
        producer: "inventory".to_owned(),
        aggregate_type: M::TYPE.aggregate.to_owned(),
        aggregate_id: certificate_id.to_owned(),
        sequence,
        schema_version: 1,
        payload: payload.encode_to_vec(),
    }
}

/// Publishes `envelope` on the subject of `M` and returns its stream sequence.
async fn publish<M: Event>(harness: &Harness, envelope: &Envelope) -> u64 {
    let subject = M::TYPE.subject(&harness.nats.settings.subject_prefix);
    harness
        .nats
        .jetstream
        .publish(subject, events::encode_envelope(envelope).into())
        .await
        .expect("the publish is sent")
        .await
        .expect("JetStream stores the event")
        .sequence
}

/// Publishes `payload` with a fresh event id as the `sequence`-th event of its certificate,
/// and waits until the consumer `durable` acknowledged it.
async fn deliver<M: Event>(
    harness: &Harness,
    durable: &str,
    certificate_id: &str,
    sequence: u64,
    payload: &M,
) {
    let envelope = envelope(Uuid::now_v7(), certificate_id, sequence, payload);
    let stream_sequence = publish::<M>(harness, &envelope).await;
    wait_until_acknowledged(harness, durable, stream_sequence).await;
}

/// Waits until the durable consumer `durable` has acknowledged every message of its subject
/// up to stream sequence `sequence`.
async fn wait_until_acknowledged(harness: &Harness, durable: &str, sequence: u64) {
    let stream = harness
        .nats
        .jetstream
        .get_stream(&harness.nats.settings.stream)
        .await
        .expect("the test stream exists");
    eventually(
        &format!("{durable} acknowledged stream sequence {sequence}"),
        || {
            let stream = stream.clone();
            async move {
                match stream.consumer_info(durable).await {
                    Ok(info) => info.ack_floor.stream_sequence >= sequence,
                    Err(_) => false,
                }
            }
        },
    )
    .await;
}

/// Returns the number of messages on the dead-letter stream.
async fn dead_letters(harness: &Harness) -> u64 {
    harness
        .nats
        .jetstream
        .get_stream(&harness.nats.settings.dead_letter_stream)
        .await
        .expect("the dead-letter stream exists")
        .get_info()
        .await
        .expect("the dead-letter stream info is readable")
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_then_admitted_is_in_inventory() {
    let harness = Harness::start().await;
    let order = issued_order(&harness, "rejected-then-admitted").await;
    assert_eq!(order.inventory_state, "", "{order:?}");

    let certificate_id = order.certificate_id.as_str();
    let rejection = rejected(&order.id, certificate_id);
    deliver(
        &harness,
        REJECTED_DURABLE_NAME,
        certificate_id,
        1,
        &rejection,
    )
    .await;
    let waiting = harness.get_order(&order.id).await;
    assert_eq!(waiting.inventory_state, "waiting");
    assert_eq!(waiting.inventory_reason, "license_limit");
    assert_eq!(waiting.inventory_message, ORDER_MESSAGE);
    assert_eq!(waiting.status, "ISSUED");

    let admission = added(&order.id, certificate_id);
    deliver(&harness, ADDED_DURABLE_NAME, certificate_id, 2, &admission).await;
    let admitted = harness.get_order(&order.id).await;
    assert_eq!(admitted.inventory_state, "in_inventory");
    assert_eq!(admitted.inventory_reason, "");
    assert_eq!(admitted.inventory_message, "");

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_arriving_after_admission_is_ignored() {
    let harness = Harness::start().await;
    let order = issued_order(&harness, "admitted-then-stale-rejection").await;
    let certificate_id = order.certificate_id.as_str();

    // The admission (sequence 2) is delivered before the rejection it follows (sequence 1).
    let admission = added(&order.id, certificate_id);
    deliver(&harness, ADDED_DURABLE_NAME, certificate_id, 2, &admission).await;
    assert_eq!(
        harness.get_order(&order.id).await.inventory_state,
        "in_inventory"
    );
    let rejection = rejected(&order.id, certificate_id);
    deliver(
        &harness,
        REJECTED_DURABLE_NAME,
        certificate_id,
        1,
        &rejection,
    )
    .await;

    let order = harness.get_order(&order.id).await;
    assert_eq!(order.inventory_state, "in_inventory");
    assert_eq!(order.inventory_reason, "");
    assert_eq!(order.inventory_message, "");
    assert_eq!(dead_letters(&harness).await, 0);

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_unknown_orders_are_acknowledged_and_ignored() {
    let harness = Harness::start().await;
    let order = issued_order(&harness, "unknown-orders-leave-it-alone").await;
    let unknown_order_id = Uuid::now_v7().to_string();
    let certificate_id = Uuid::now_v7().to_string();

    // An order id no order has, an import without an order, and an id that is not a UUID.
    for order_id in [unknown_order_id.as_str(), "", "order-7"] {
        let rejection = rejected(order_id, &certificate_id);
        deliver(
            &harness,
            REJECTED_DURABLE_NAME,
            &certificate_id,
            1,
            &rejection,
        )
        .await;
        let admission = added(order_id, &certificate_id);
        deliver(&harness, ADDED_DURABLE_NAME, &certificate_id, 2, &admission).await;
    }

    assert_eq!(dead_letters(&harness).await, 0);
    let order = harness.get_order(&order.id).await;
    assert_eq!(order.inventory_state, "", "{order:?}");

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_of_another_certificate_is_ignored() {
    let harness = Harness::start().await;
    let order = issued_order(&harness, "another-certificate").await;
    let other_certificate_id = Uuid::now_v7().to_string();

    let rejection = rejected(&order.id, &other_certificate_id);
    deliver(
        &harness,
        REJECTED_DURABLE_NAME,
        &other_certificate_id,
        1,
        &rejection,
    )
    .await;

    let order = harness.get_order(&order.id).await;
    assert_eq!(order.inventory_state, "", "{order:?}");
    assert_eq!(dead_letters(&harness).await, 0);

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republished_event_is_recorded_once() {
    let harness = Harness::start().await;
    let order = issued_order(&harness, "republished-rejection").await;
    let certificate_id = order.certificate_id.as_str();

    // The same event twice, as a relay republishes it after the de-duplication window.
    let event_id = Uuid::now_v7();
    let copy = envelope(
        event_id,
        certificate_id,
        1,
        &rejected(&order.id, certificate_id),
    );
    let first = publish::<CertificateRejected>(&harness, &copy).await;
    let second = publish::<CertificateRejected>(&harness, &copy).await;
    assert!(second > first, "JetStream stored both copies");
    wait_until_acknowledged(&harness, REJECTED_DURABLE_NAME, second).await;

    let inbox_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2")
            .bind(REJECTED_DURABLE_NAME)
            .bind(event_id)
            .fetch_one(&harness.db.pool)
            .await
            .expect("the inbox is readable");
    assert_eq!(inbox_rows, 1);
    let sequence: Option<i64> =
        sqlx::query_scalar("SELECT inventory_sequence FROM orders WHERE id = $1")
            .bind(Uuid::parse_str(&order.id).expect("order ids are UUIDs"))
            .fetch_one(&harness.db.pool)
            .await
            .expect("the order is readable");
    assert_eq!(sequence, Some(1));
    let order = harness.get_order(&order.id).await;
    assert_eq!(order.inventory_state, "waiting");
    assert_eq!(order.inventory_message, ORDER_MESSAGE);
    assert_eq!(dead_letters(&harness).await, 0);

    harness.stop().await;
}

/// Builds the delivered form of `payload`, the `sequence`-th event of `certificate_id`, as the
/// consumer hands it to the handler.
fn received<M: Event>(certificate_id: &str, sequence: u64, payload: &M) -> ReceivedEvent {
    let event_id = Uuid::now_v7();
    ReceivedEvent {
        envelope: envelope(event_id, certificate_id, sequence, payload),
        event_id,
        subject: M::TYPE.subject("certs"),
        stream_sequence: sequence,
        delivered: 1,
        traceparent: None,
    }
}

/// Applies `events` with `handler` as one batch, in one transaction, as the consumer does with
/// events received together.
async fn apply_batch(harness: &Harness, handler: &InventoryEventHandler, events: &[ReceivedEvent]) {
    let batch: Vec<&ReceivedEvent> = events.iter().collect();
    let mut tx = harness.db.pool.begin().await.expect("begin");
    handler
        .handle_batch(&mut tx, &batch)
        .await
        .expect("the batch is recorded");
    tx.commit().await.expect("commit");
}

/// Applies the rejection of `order`'s certificate, the `sequence`-th event of it, as a batch
/// of its own.
async fn reject_alone(harness: &Harness, order: &Order, sequence: u64) {
    let rejection = rejected(&order.id, &order.certificate_id);
    apply_batch(
        harness,
        &InventoryEventHandler::rejected(),
        &[received(&order.certificate_id, sequence, &rejection)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_records_each_event_as_alone() {
    let harness = Harness::start().await;
    let admitted = issued_order(&harness, "batch-held").await;
    let waiting = issued_order(&harness, "batch-waiting").await;
    let other = issued_order(&harness, "batch-other-certificate").await;
    let stale = issued_order(&harness, "batch-stale").await;
    // The rejection (sequence 5) of `stale` is recorded before the batch.
    reject_alone(&harness, &stale, 5).await;

    let unknown_certificate = Uuid::now_v7().to_string();
    let added_events = [
        received(
            &admitted.certificate_id,
            2,
            &added(&admitted.id, &admitted.certificate_id),
        ),
        received(
            &unknown_certificate,
            1,
            &added(&other.id, &unknown_certificate),
        ),
        received(
            &stale.certificate_id,
            3,
            &added(&stale.id, &stale.certificate_id),
        ),
        received(
            &unknown_certificate,
            2,
            &added(&Uuid::now_v7().to_string(), &unknown_certificate),
        ),
        received(&unknown_certificate, 3, &added("", &unknown_certificate)),
        received(
            &unknown_certificate,
            4,
            &added("order-7", &unknown_certificate),
        ),
    ];
    apply_batch(
        &harness,
        &InventoryEventHandler::added_to_inventory(),
        &added_events,
    )
    .await;
    reject_alone(&harness, &waiting, 1).await;

    let admitted = harness.get_order(&admitted.id).await;
    assert_eq!(admitted.inventory_state, "in_inventory", "{admitted:?}");
    let waiting = harness.get_order(&waiting.id).await;
    assert_eq!(waiting.inventory_state, "waiting");
    assert_eq!(waiting.inventory_message, ORDER_MESSAGE);
    let other = harness.get_order(&other.id).await;
    assert_eq!(
        other.inventory_state, "",
        "another certificate's event: {other:?}"
    );
    let stale = harness.get_order(&stale.id).await;
    assert_eq!(
        stale.inventory_state, "waiting",
        "an older event: {stale:?}"
    );

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_naming_an_order_twice_keeps_later_event() {
    let harness = Harness::start().await;
    let order = issued_order(&harness, "batch-twice").await;
    let certificate_id = order.certificate_id.as_str();
    let handler = InventoryEventHandler::added_to_inventory();

    // Sequence 4 and an older event of the certificate (sequence 2) arrive in one batch; a
    // rejection with sequence 3 comes after them.
    apply_batch(
        &harness,
        &handler,
        &[
            received(certificate_id, 4, &added(&order.id, certificate_id)),
            received(certificate_id, 2, &added(&order.id, certificate_id)),
        ],
    )
    .await;
    apply_batch(
        &harness,
        &InventoryEventHandler::rejected(),
        &[received(
            certificate_id,
            3,
            &rejected(&order.id, certificate_id),
        )],
    )
    .await;

    let sequence: Option<i64> =
        sqlx::query_scalar("SELECT inventory_sequence FROM orders WHERE id = $1")
            .bind(Uuid::parse_str(&order.id).expect("order ids are UUIDs"))
            .fetch_one(&harness.db.pool)
            .await
            .expect("the order is readable");
    assert_eq!(sequence, Some(4));
    let order = harness.get_order(&order.id).await;
    assert_eq!(order.inventory_state, "in_inventory", "{order:?}");

    harness.stop().await;
}
