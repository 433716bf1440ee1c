//! The relay from the outbox to JetStream, on the real servers.

use std::collections::HashSet;

use certitude_platform::events::{self, CONTENT_TYPE};
use certitude_platform::outbox::{self, NewEvent, Relay};
use certitude_platform::testing::{TestDb, TestNats, TestNatsServer};
use tokio_util::sync::CancellationToken;

use crate::support::{
    SERVICE_MIGRATIONS, TRACEPARENT, eventually, header, message_count, order_created,
    quick_relay_settings, stream_messages, system_clock,
};

async fn unpublished(test_db: &TestDb) -> u64 {
    outbox::backlog(&test_db.pool, time::OffsetDateTime::now_utc())
        .await
        .expect("backlog is readable")
        .unpublished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_committed_during_nats_outage_arrives_once() {
    let mut server = TestNatsServer::start().await;
    let nats = TestNats::on(&server.url()).await;
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let outbox = crate::support::outbox(&nats.settings, system_clock());
    let relay = Relay::new(
        test_db.pool.clone(),
        nats.jetstream.clone(),
        system_clock(),
        &nats.settings,
        quick_relay_settings(),
    );
    let stats = relay.stats();
    let shutdown = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));

    // Arrange: NATS goes down, then a state change and its event commit together.
    server.stop().await;
    let mut tx = test_db.pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO effects (order_id) VALUES ('order-1')")
        .execute(&mut *tx)
        .await
        .expect("state change");
    let event = NewEvent::new("order-1", &order_created("order-1"))
        .with_traceparent(Some(TRACEPARENT.to_owned()));
    let enqueued = outbox.enqueue(&mut tx, event).await.expect("enqueue");
    tx.commit().await.expect("commit");
    eventually("the relay has failed to publish", || async {
        stats.failed_rounds() >= 1
    })
    .await;

    // Act: NATS comes back.
    server.restart().await;
    eventually("the outbox is drained", || async {
        unpublished(&test_db).await == 0
    })
    .await;
    shutdown.cancel();
    relay_task.await.expect("the relay stops");

    // Assert: the stream contains the event exactly once, with its headers.
    let messages = stream_messages(&nats.jetstream, &nats.settings.stream).await;
    let event_id = enqueued.event_id.to_string();
    let copies: Vec<_> = messages
        .iter()
        .filter(|message| header(message, "Nats-Msg-Id") == Some(event_id.as_str()))
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(copies.len(), 1);
    let message = copies[0];
    assert_eq!(message.subject.as_str(), enqueued.subject);
    assert_eq!(header(message, "traceparent"), Some(TRACEPARENT));
    assert_eq!(header(message, "Content-Type"), Some(CONTENT_TYPE));
    let envelope = events::decode_envelope(&message.payload).expect("the body is an envelope");
    assert_eq!(envelope.event_id, event_id);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn rolled_back_transaction_publishes_nothing() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let outbox = crate::support::outbox(&nats.settings, system_clock());
    let relay = Relay::new(
        test_db.pool.clone(),
        nats.jetstream.clone(),
        system_clock(),
        &nats.settings,
        quick_relay_settings(),
    );
    let shutdown = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));

    let mut tx = test_db.pool.begin().await.expect("begin");
    let rolled_back = NewEvent::new("order-1", &order_created("order-1"));
    let rolled_back = outbox.enqueue(&mut tx, rolled_back).await.expect("enqueue");
    tx.rollback().await.expect("rollback");
    // A later committed event shows when the relay has caught up.
    let mut tx = test_db.pool.begin().await.expect("begin");
    let marker = NewEvent::new("order-2", &order_created("order-2"));
    let marker = outbox.enqueue(&mut tx, marker).await.expect("enqueue");
    tx.commit().await.expect("commit");
    eventually("the committed event is published", || async {
        unpublished(&test_db).await == 0
    })
    .await;
    shutdown.cancel();
    relay_task.await.expect("the relay stops");

    let messages = stream_messages(&nats.jetstream, &nats.settings.stream).await;
    let ids: Vec<Option<&str>> = messages.iter().map(|m| header(m, "Nats-Msg-Id")).collect();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE id = $1")
        .bind(rolled_back.event_id)
        .fetch_one(&test_db.pool)
        .await
        .expect("count");
    assert_eq!(ids, vec![Some(marker.event_id.to_string().as_str())]);
    assert_eq!(rows, 0);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_publish_each_event_once() {
    const EVENTS: usize = 200;
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let outbox = crate::support::outbox(&nats.settings, system_clock());
    let mut tx = test_db.pool.begin().await.expect("begin");
    for index in 0..EVENTS {
        let order = format!("order-{}", index % 20);
        let event = NewEvent::new(order.as_str(), &order_created(&order));
        outbox.enqueue(&mut tx, event).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");

    let shutdown = CancellationToken::new();
    let second_pool = test_db.connect_again().await;
    let relays: Vec<Relay> = [test_db.pool.clone(), second_pool.clone()]
        .into_iter()
        .map(|pool| {
            Relay::new(
                pool,
                nats.jetstream.clone(),
                system_clock(),
                &nats.settings,
                quick_relay_settings(),
            )
        })
        .collect();
    let stats: Vec<_> = relays.iter().map(Relay::stats).collect();
    let tasks: Vec<_> = relays
        .into_iter()
        .map(|relay| tokio::spawn(relay.run(shutdown.clone())))
        .collect();
    eventually("every event is published", || async {
        unpublished(&test_db).await == 0
    })
    .await;
    shutdown.cancel();
    for task in tasks {
        task.await.expect("the relay stops");
    }

    let messages = stream_messages(&nats.jetstream, &nats.settings.stream).await;
    let unique_ids: HashSet<&str> = messages
        .iter()
        .filter_map(|message| header(message, "Nats-Msg-Id"))
        .collect();
    let published: u64 = stats.iter().map(|s| s.published()).sum();
    let duplicates: u64 = stats.iter().map(|s| s.duplicates()).sum();
    assert_eq!(messages.len(), EVENTS);
    assert_eq!(unique_ids.len(), EVENTS);
    assert_eq!(published, EVENTS as u64);
    assert_eq!(duplicates, 0);
    assert_eq!(
        message_count(&nats.jetstream, &nats.settings.stream).await,
        EVENTS as u64
    );
    second_pool.close().await;
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn aggregate_events_publish_in_sequence_order() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let outbox = crate::support::outbox(&nats.settings, system_clock());
    for _ in 0..5 {
        let mut tx = test_db.pool.begin().await.expect("begin");
        let event = NewEvent::new("order-1", &order_created("order-1"));
        outbox.enqueue(&mut tx, event).await.expect("enqueue");
        tx.commit().await.expect("commit");
    }
    let relay = Relay::new(
        test_db.pool.clone(),
        nats.jetstream.clone(),
        system_clock(),
        &nats.settings,
        quick_relay_settings(),
    );

    assert_eq!(relay.publish_batch().await.expect("publishes"), 5);

    let sequences: Vec<u64> = stream_messages(&nats.jetstream, &nats.settings.stream)
        .await
        .iter()
        .map(|message| {
            events::decode_envelope(&message.payload)
                .expect("the body is an envelope")
                .sequence
        })
        .collect();
    assert_eq!(sequences, vec![1, 2, 3, 4, 5]);
    test_db.drop_now().await;
    nats.delete_streams().await;
}
