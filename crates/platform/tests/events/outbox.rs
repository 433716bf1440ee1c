//! Writing events into the outbox within the caller's transaction.

use certitude_platform::clock::{Clock, ManualClock};
use certitude_platform::events;
use certitude_platform::outbox::{self, NewEvent};
use certitude_platform::testing::{TestDb, TestNats};
use certitude_proto::events::v1::OrderCreated;
use prost::Message;
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{SERVICE_MIGRATIONS, TRACEPARENT, order_created, system_clock};

#[tokio::test]
async fn enqueue_writes_complete_envelope_row() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats_settings = certitude_platform::events::EventsSettings::new("CERTS", "certs");
    let clock = ManualClock::new(datetime!(2028-02-29 12:00 UTC));
    let outbox = crate::support::outbox(&nats_settings, clock.shared());
    let payload = order_created("order-1");

    let mut tx = test_db.pool.begin().await.expect("begin");
    let event = NewEvent::new("order-1", &payload).with_traceparent(Some(TRACEPARENT.to_owned()));
    let enqueued = outbox.enqueue(&mut tx, event).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let (subject, envelope, traceparent, created_at): (
        String,
        Vec<u8>,
        Option<String>,
        time::OffsetDateTime,
    ) = sqlx::query_as(
        "SELECT subject, envelope, traceparent, created_at FROM outbox WHERE id = $1",
    )
    .bind(enqueued.event_id)
    .fetch_one(&test_db.pool)
    .await
    .expect("the row is committed");
    let envelope = events::decode_envelope(&envelope).expect("the envelope decodes");

    assert_eq!(enqueued.subject, "certs.v1.order.created");
    assert_eq!(subject, "certs.v1.order.created");
    assert_eq!(enqueued.sequence, 1);
    assert_eq!(enqueued.event_id.get_version_num(), 7);
    assert_eq!(envelope.event_id, enqueued.event_id.to_string());
    assert_eq!(envelope.event_type, "certitude.events.v1.OrderCreated");
    assert_eq!(envelope.producer, "platform-tests");
    assert_eq!(envelope.aggregate_type, "order");
    assert_eq!(envelope.aggregate_id, "order-1");
    assert_eq!(envelope.sequence, 1);
    assert_eq!(envelope.schema_version, 1);
    assert_eq!(envelope.occurred_at, Some(events::timestamp(clock.now())));
    assert_eq!(
        OrderCreated::decode(envelope.payload.as_slice()).ok(),
        Some(payload)
    );
    assert_eq!(traceparent.as_deref(), Some(TRACEPARENT));
    assert_eq!(created_at, clock.now());
    test_db.drop_now().await;
}

#[tokio::test]
async fn concurrent_enqueues_get_gapless_sequences() {
    const WRITERS: u64 = 24;
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&Default::default(), system_clock());

    let writers = (0..WRITERS).map(|_| {
        let pool = test_db.pool.clone();
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.expect("begin");
            let event = NewEvent::new("order-shared", &order_created("order-shared"));
            let enqueued = outbox.enqueue(&mut tx, event).await.expect("enqueue");
            tx.commit().await.expect("commit");
            enqueued.sequence
        })
    });
    let mut sequences = Vec::new();
    for writer in writers {
        sequences.push(writer.await.expect("writer task completes"));
    }
    sequences.sort_unstable();

    let stored: Vec<i64> = sqlx::query_scalar(
        "SELECT sequence FROM outbox WHERE aggregate_id = 'order-shared' ORDER BY sequence",
    )
    .fetch_all(&test_db.pool)
    .await
    .expect("rows are readable");
    assert_eq!(sequences, (1..=WRITERS).collect::<Vec<_>>());
    assert_eq!(stored, (1..=WRITERS as i64).collect::<Vec<_>>());
    test_db.drop_now().await;
}

#[tokio::test]
async fn sequences_count_per_aggregate() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&Default::default(), system_clock());
    let mut tx = test_db.pool.begin().await.expect("begin");

    let mut sequences = Vec::new();
    for order in ["order-a", "order-b", "order-a"] {
        let event = NewEvent::new(order, &order_created(order));
        sequences.push(
            outbox
                .enqueue(&mut tx, event)
                .await
                .expect("enqueue")
                .sequence,
        );
    }
    tx.commit().await.expect("commit");

    assert_eq!(sequences, vec![1, 1, 2]);
    test_db.drop_now().await;
}

/// Id, aggregate id, sequence, envelope and trace context of an outbox row.
type OutboxRow = (Uuid, String, i64, Vec<u8>, Option<String>);

#[tokio::test]
async fn enqueue_many_continues_each_aggregate() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&Default::default(), system_clock());
    let mut tx = test_db.pool.begin().await.expect("begin");
    let single = NewEvent::new("order-a", &order_created("order-a"));
    outbox.enqueue(&mut tx, single).await.expect("enqueue");

    let events = ["order-b", "order-a", "order-b", "order-c", "order-a"]
        .map(|order| {
            NewEvent::new(order, &order_created(order))
                .with_traceparent(Some(TRACEPARENT.to_owned()))
        })
        .to_vec();
    let enqueued = outbox.enqueue_many(&mut tx, events).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, aggregate_id, sequence, envelope, traceparent FROM outbox ORDER BY id",
    )
    .fetch_all(&test_db.pool)
    .await
    .expect("the rows are committed");
    let sequences: Vec<u64> = enqueued.iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 2, 1, 3]);
    assert_eq!(rows.len(), 6);
    for (event, (id, aggregate_id, sequence, envelope, traceparent)) in
        enqueued.iter().zip(rows.iter().skip(1))
    {
        let envelope = events::decode_envelope(envelope).expect("the envelope decodes");
        assert_eq!(*id, event.event_id);
        assert_eq!(envelope.event_id, event.event_id.to_string());
        assert_eq!(envelope.aggregate_id, *aggregate_id);
        assert_eq!(envelope.sequence, sequence.unsigned_abs());
        assert_eq!(event.sequence, sequence.unsigned_abs());
        assert_eq!(event.subject, "certs.v1.order.created");
        assert_eq!(traceparent.as_deref(), Some(TRACEPARENT));
    }
    test_db.drop_now().await;
}

#[tokio::test]
async fn enqueue_many_rejects_empty_aggregate_id() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&Default::default(), system_clock());
    let mut tx = test_db.pool.begin().await.expect("begin");
    let events = vec![
        NewEvent::new("order-1", &order_created("order-1")),
        NewEvent::new("", &order_created("")),
    ];

    let error = outbox
        .enqueue_many(&mut tx, events)
        .await
        .expect_err("every event needs its aggregate");
    tx.commit().await.expect("commit");

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&test_db.pool)
        .await
        .expect("count");
    assert!(
        matches!(error, outbox::OutboxError::EmptyAggregateId { .. }),
        "{error:?}"
    );
    assert_eq!(rows, 0);
    test_db.drop_now().await;
}

#[tokio::test]
async fn rolled_back_enqueue_leaves_no_gap() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&Default::default(), system_clock());

    let mut tx = test_db.pool.begin().await.expect("begin");
    let event = NewEvent::new("order-1", &order_created("order-1"));
    outbox.enqueue(&mut tx, event).await.expect("enqueue");
    tx.rollback().await.expect("rollback");
    let mut tx = test_db.pool.begin().await.expect("begin");
    let event = NewEvent::new("order-1", &order_created("order-1"));
    let committed = outbox.enqueue(&mut tx, event).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&test_db.pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    assert_eq!(committed.sequence, 1);
    test_db.drop_now().await;
}

#[tokio::test]
async fn empty_aggregate_id_is_rejected() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&Default::default(), system_clock());
    let mut conn = test_db.pool.acquire().await.expect("acquire");

    let error = outbox
        .enqueue(&mut conn, NewEvent::new("", &order_created("")))
        .await
        .expect_err("an event needs its aggregate");

    assert!(
        matches!(
            error,
            outbox::OutboxError::EmptyAggregateId {
                aggregate: "order",
                ..
            }
        ),
        "{error:?}"
    );
    drop(conn);
    test_db.drop_now().await;
}

#[tokio::test]
async fn backlog_and_prune_track_unpublished_rows() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let clock = ManualClock::new(datetime!(2028-02-29 12:00 UTC));
    let outbox = crate::support::outbox(&nats.settings, clock.shared());
    let mut tx = test_db.pool.begin().await.expect("begin");
    for order in ["order-1", "order-2"] {
        let event = NewEvent::new(order, &order_created(order));
        outbox.enqueue(&mut tx, event).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");
    clock.advance(time::Duration::minutes(5));

    let before = outbox::backlog(&test_db.pool, clock.now())
        .await
        .expect("backlog");
    assert_eq!(before.unpublished, 2);
    assert_eq!(before.oldest_age, Some(time::Duration::minutes(5)));

    let relay = outbox::Relay::new(
        test_db.pool.clone(),
        nats.jetstream.clone(),
        clock.shared(),
        &nats.settings,
        crate::support::quick_relay_settings(),
    );
    assert_eq!(relay.publish_batch().await.expect("publishes"), 2);
    let after = outbox::backlog(&test_db.pool, clock.now())
        .await
        .expect("backlog");
    assert_eq!(after.unpublished, 0);
    assert_eq!(after.oldest_age, None);

    let mut tx = test_db.pool.begin().await.expect("begin");
    let waiting = NewEvent::new("order-3", &order_created("order-3"));
    let waiting = outbox.enqueue(&mut tx, waiting).await.expect("enqueue");
    tx.commit().await.expect("commit");
    clock.advance(time::Duration::days(8));
    let pruned = outbox::prune_published(&test_db.pool, clock.now() - time::Duration::days(7))
        .await
        .expect("prune");
    let remaining: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM outbox")
        .fetch_all(&test_db.pool)
        .await
        .expect("rows");
    assert_eq!(pruned, 2);
    assert_eq!(remaining, vec![waiting.event_id]);
    test_db.drop_now().await;
    nats.delete_streams().await;
}
