//! The durable consumer with its inbox and dead-letter stream, on the real servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use certitude_platform::consumer::{
    BoxError, ConsumerSettings, EventHandler, ReceivedEvent, dead_letter, handler_fn, run_consumer,
};
use certitude_platform::events::{self, Envelope, Event};
use certitude_platform::testing::{TestDb, TestNats};
use certitude_proto::events::v1::OrderCreated;
use prost::Message;
use sqlx::PgConnection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::{
    SERVICE_MIGRATIONS, TRACEPARENT, eventually, header, order_created, stream_messages,
    system_clock,
};

const DURABLE: &str = "inventory_orders";

/// Records each call and writes one effect row per event, failing the calls `fail` selects.
struct EffectHandler {
    calls: Arc<AtomicUsize>,
    fail: fn(&ReceivedEvent) -> bool,
}

/// Writes the effect row of `event`, an OrderCreated, and returns its payload.
async fn write_effect(
    conn: &mut PgConnection,
    event: &ReceivedEvent,
) -> Result<OrderCreated, BoxError> {
    let payload: OrderCreated = event.payload()?;
    sqlx::query("INSERT INTO effects (event_id, order_id) VALUES ($1, $2)")
        .bind(event.event_id)
        .bind(&payload.order_id)
        .execute(conn)
        .await?;
    Ok(payload)
}

impl EventHandler for EffectHandler {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let payload = write_effect(conn, event).await?;
        if (self.fail)(event) {
            return Err(format!("inventory is closed for order {}", payload.order_id).into());
        }
        Ok(())
    }
}

struct Running {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), certitude_platform::consumer::ConsumerError>>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the consumer task completes")
            .expect("the consumer ran without a setup error");
    }
}

fn settings(nats: &TestNats) -> ConsumerSettings {
    let subject = <OrderCreated as Event>::TYPE.subject(&nats.settings.subject_prefix);
    ConsumerSettings {
        max_deliver: 3,
        backoff: vec![Duration::from_millis(20)],
        pull_expires: Duration::from_millis(500),
        ..ConsumerSettings::new(&nats.settings, DURABLE, subject)
    }
}

fn start(test_db: &TestDb, nats: &TestNats, handler: impl EventHandler) -> Running {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_consumer(
        nats.jetstream.clone(),
        test_db.pool.clone(),
        system_clock(),
        settings(nats),
        handler,
        shutdown.clone(),
    ));
    Running { shutdown, task }
}

fn envelope(order_id: &str) -> Envelope {
    Envelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: <OrderCreated as Event>::TYPE.full_name.to_owned(),
        occurred_at: Some(events::timestamp(time::OffsetDateTime::now_utc())),
        producer: "order-manager".to_owned(),
        aggregate_type: "order".to_owned(),
        aggregate_id: order_id.to_owned(),
        sequence: 1,
        schema_version: 1,
        payload: order_created(order_id).encode_to_vec(),
    }
}

/// Publishes `body` on the order-created subject with its own `Nats-Msg-Id`.
async fn publish(nats: &TestNats, body: Vec<u8>, message_id: &str) -> u64 {
    let subject = <OrderCreated as Event>::TYPE.subject(&nats.settings.subject_prefix);
    let message = PublishMessage::build()
        .payload(body.into())
        .message_id(message_id)
        .header("traceparent", TRACEPARENT);
    nats.jetstream
        .send_publish(subject, message)
        .await
        .expect("publish is sent")
        .await
        .expect("publish is acknowledged")
        .sequence
}

/// Waits until the consumer has acknowledged or terminated every message up to `sequence`.
async fn wait_until_settled(nats: &TestNats, sequence: u64) {
    let stream = nats
        .jetstream
        .get_stream(&nats.settings.stream)
        .await
        .expect("the stream exists");
    eventually("the consumer has settled every message", || async {
        match stream.consumer_info(DURABLE).await {
            Ok(info) => {
                info.ack_floor.stream_sequence >= sequence
                    && info.num_ack_pending == 0
                    && info.num_pending == 0
            }
            Err(_) => false,
        }
    })
    .await;
}

async fn count(test_db: &TestDb, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&test_db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn republished_event_has_one_effect() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = EffectHandler {
        calls: Arc::clone(&calls),
        fail: |_| false,
    };
    let body = envelope("order-1").encode_to_vec();
    publish(&nats, body.clone(), "first-copy").await;
    let last = publish(&nats, body, "second-copy").await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    assert_eq!(last, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(count(&test_db, "effects").await, 1);
    assert_eq!(count(&test_db, "inbox").await, 1);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn failed_attempt_rolls_back_effect() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = EffectHandler {
        calls: Arc::clone(&calls),
        fail: |event| event.delivered == 1,
    };
    let last = publish(&nats, envelope("order-1").encode_to_vec(), "only-copy").await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    let inbox: (String, i64) = sqlx::query_as("SELECT consumer, stream_sequence FROM inbox")
        .fetch_one(&test_db.pool)
        .await
        .expect("one inbox row");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(count(&test_db, "effects").await, 1);
    assert_eq!(inbox, (DURABLE.to_owned(), 1));
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn failing_event_dead_lettered_with_error() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = EffectHandler {
        calls: Arc::clone(&calls),
        fail: |_| true,
    };
    let body = envelope("order-9").encode_to_vec();
    let sequence = publish(&nats, body.clone(), "doomed").await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, sequence).await;
    consumer.stop().await;

    let subject = <OrderCreated as Event>::TYPE.subject(&nats.settings.subject_prefix);
    let dead = stream_messages(&nats.jetstream, &nats.settings.dead_letter_stream).await;
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    let expected_subject = format!("{}.{DURABLE}.{subject}", nats.settings.dead_letter_prefix);
    assert_eq!(letter.subject.as_str(), expected_subject);
    assert_eq!(letter.payload.as_ref(), body.as_slice());
    assert_eq!(
        header(letter, dead_letter::HEADER_REASON),
        Some("handler_failed")
    );
    assert_eq!(
        header(letter, dead_letter::HEADER_ORIGINAL_SUBJECT),
        Some(subject.as_str())
    );
    assert_eq!(
        header(letter, dead_letter::HEADER_ORIGINAL_STREAM),
        Some(nats.settings.stream.as_str())
    );
    assert_eq!(
        header(letter, dead_letter::HEADER_ORIGINAL_SEQUENCE),
        Some("1")
    );
    assert_eq!(header(letter, dead_letter::HEADER_CONSUMER), Some(DURABLE));
    assert_eq!(
        header(letter, dead_letter::HEADER_DELIVERY_COUNT),
        Some("3")
    );
    assert_eq!(
        header(letter, dead_letter::HEADER_ERROR),
        Some("inventory is closed for order order-9")
    );
    assert_eq!(header(letter, "traceparent"), Some(TRACEPARENT));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(count(&test_db, "effects").await, 0);
    assert_eq!(count(&test_db, "inbox").await, 0);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn undecodable_message_dead_lettered_at_once() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = handler_fn(move |_conn, _event| {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    });
    let sequence = publish(&nats, vec![0xff, 0xff, 0xff], "garbage").await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, sequence).await;
    consumer.stop().await;

    let dead = stream_messages(&nats.jetstream, &nats.settings.dead_letter_stream).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        header(&dead[0], dead_letter::HEADER_REASON),
        Some("undecodable")
    );
    assert_eq!(
        header(&dead[0], dead_letter::HEADER_DELIVERY_COUNT),
        Some("1")
    );
    assert!(
        header(&dead[0], dead_letter::HEADER_ERROR)
            .is_some_and(|error| error.contains("not an encoded certitude.events.v1.Envelope")),
        "{:?}",
        header(&dead[0], dead_letter::HEADER_ERROR)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn handler_receives_envelope_and_trace_context() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let sent = envelope("order-7");
    let (received_tx, mut received_rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = handler_fn(move |_conn, event| {
        received_tx.send(event.clone()).ok();
        Box::pin(async { Ok(()) })
    });
    let sequence = publish(&nats, sent.encode_to_vec(), "traced").await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, sequence).await;
    consumer.stop().await;

    let received = received_rx.recv().await.expect("the handler ran");
    assert_eq!(received.envelope, sent);
    assert_eq!(received.event_id.to_string(), sent.event_id);
    assert_eq!(received.traceparent.as_deref(), Some(TRACEPARENT));
    assert_eq!(received.stream_sequence, sequence);
    assert_eq!(received.delivered, 1);
    assert_eq!(
        received
            .payload::<OrderCreated>()
            .expect("payload decodes")
            .order_id,
        "order-7"
    );
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn restarted_consumer_resumes_with_changed_settings() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let first = publish(&nats, envelope("order-1").encode_to_vec(), "first").await;
    let handler = EffectHandler {
        calls: Arc::clone(&calls),
        fail: |_| false,
    };
    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, first).await;
    consumer.stop().await;

    let second = publish(&nats, envelope("order-2").encode_to_vec(), "second").await;
    let shutdown = CancellationToken::new();
    let changed = ConsumerSettings {
        ack_wait: Duration::from_secs(45),
        ..settings(&nats)
    };
    let handler = EffectHandler {
        calls: Arc::clone(&calls),
        fail: |_| false,
    };
    let task = tokio::spawn(run_consumer(
        nats.jetstream.clone(),
        test_db.pool.clone(),
        system_clock(),
        changed,
        handler,
        shutdown.clone(),
    ));
    wait_until_settled(&nats, second).await;
    shutdown.cancel();
    task.await
        .expect("the consumer task completes")
        .expect("the existing durable consumer is reused");

    let info = nats
        .jetstream
        .get_stream(&nats.settings.stream)
        .await
        .expect("the stream exists")
        .consumer_info(DURABLE)
        .await
        .expect("the durable consumer exists");
    assert_eq!(info.config.ack_wait, Duration::from_secs(45));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(count(&test_db, "effects").await, 2);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn shutdown_finishes_event_in_progress() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let released = Arc::clone(&release);
    let handler = handler_fn(move |conn, event| {
        started_tx.send(()).ok();
        let released = Arc::clone(&released);
        Box::pin(async move {
            released.notified().await;
            sqlx::query("INSERT INTO effects (event_id, order_id) VALUES ($1, 'order-1')")
                .bind(event.event_id)
                .execute(conn)
                .await?;
            Ok(())
        })
    });
    let sequence = publish(&nats, envelope("order-1").encode_to_vec(), "slow").await;
    let consumer = start(&test_db, &nats, handler);
    started_rx.recv().await.expect("the handler started");

    consumer.shutdown.cancel();
    release.notify_one();
    consumer
        .task
        .await
        .expect("the consumer task completes")
        .expect("the consumer ran without a setup error");

    let info = nats
        .jetstream
        .get_stream(&nats.settings.stream)
        .await
        .expect("the stream exists")
        .consumer_info(DURABLE)
        .await
        .expect("the durable consumer exists");
    assert_eq!(info.ack_floor.stream_sequence, sequence);
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(count(&test_db, "effects").await, 1);
    assert_eq!(count(&test_db, "inbox").await, 1);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

/// Records the transaction of each call, to tell how many events shared a transaction.
struct TransactionRecorder {
    transactions: Arc<std::sync::Mutex<Vec<i64>>>,
    fail: fn(&ReceivedEvent, &OrderCreated) -> bool,
}

impl EventHandler for TransactionRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        let payload: OrderCreated = event.payload()?;
        let transaction: i64 = sqlx::query_scalar(
            "INSERT INTO effects (event_id, order_id) VALUES ($1, $2)
             RETURNING txid_current()",
        )
        .bind(event.event_id)
        .bind(&payload.order_id)
        .fetch_one(&mut *conn)
        .await?;
        self.transactions
            .lock()
            .expect("the recorder lock is not poisoned")
            .push(transaction);
        if (self.fail)(event, &payload) {
            return Err(format!("inventory is closed for order {}", payload.order_id).into());
        }
        Ok(())
    }
}

/// Publishes `count` events, numbered from order-0, and returns the last stream sequence.
async fn publish_numbered(nats: &TestNats, count: usize) -> u64 {
    let mut last = 0;
    for number in 0..count {
        let body = envelope(&format!("order-{number}")).encode_to_vec();
        last = publish(nats, body, &format!("copy-{number}")).await;
    }
    last
}

fn distinct(transactions: &std::sync::Mutex<Vec<i64>>) -> usize {
    let mut ids = transactions.lock().expect("not poisoned").clone();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

#[tokio::test]
async fn backlog_shares_transactions() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let transactions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = TransactionRecorder {
        transactions: Arc::clone(&transactions),
        fail: |_, _| false,
    };
    let last = publish_numbered(&nats, 60).await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    assert_eq!(transactions.lock().expect("not poisoned").len(), 60);
    assert!(
        distinct(&transactions) < 60,
        "60 waiting events took {} transactions; expected several per transaction",
        distinct(&transactions)
    );
    assert_eq!(count(&test_db, "effects").await, 60);
    assert_eq!(count(&test_db, "inbox").await, 60);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn failing_event_in_group_fails_alone() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let transactions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = TransactionRecorder {
        transactions: Arc::clone(&transactions),
        fail: |_, payload| payload.order_id == "order-17",
    };
    let last = publish_numbered(&nats, 40).await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    let failed: Vec<String> = sqlx::query_scalar(
        "SELECT order_id FROM generate_series(0, 39) AS number,
                LATERAL (SELECT 'order-' || number AS order_id) AS expected
         WHERE order_id NOT IN (SELECT order_id FROM effects)",
    )
    .fetch_all(&test_db.pool)
    .await
    .expect("orders without effect");
    let dead = stream_messages(&nats.jetstream, &nats.settings.dead_letter_stream).await;
    assert_eq!(failed, vec!["order-17".to_owned()]);
    assert_eq!(count(&test_db, "effects").await, 39);
    assert_eq!(count(&test_db, "inbox").await, 39);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        header(&dead[0], dead_letter::HEADER_DELIVERY_COUNT),
        Some("3")
    );
    test_db.drop_now().await;
    nats.delete_streams().await;
}

#[tokio::test]
async fn repeated_event_in_group_applied_once() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let transactions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = TransactionRecorder {
        transactions: Arc::clone(&transactions),
        fail: |_, _| false,
    };
    let mut last = 0;
    for number in 0..20 {
        let body = envelope(&format!("order-{number}")).encode_to_vec();
        publish(&nats, body.clone(), &format!("first-{number}")).await;
        last = publish(&nats, body, &format!("second-{number}")).await;
    }

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    assert_eq!(last, 40);
    assert_eq!(transactions.lock().expect("not poisoned").len(), 20);
    assert_eq!(count(&test_db, "effects").await, 20);
    assert_eq!(count(&test_db, "inbox").await, 20);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

/// Applies batches with one statement, and rejects every batch holding order-5, so that the
/// consumer falls back to `handle` for that batch.
struct BatchWriter {
    batch_sizes: Arc<std::sync::Mutex<Vec<usize>>>,
    single_calls: Arc<AtomicUsize>,
}

impl EventHandler for BatchWriter {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.single_calls.fetch_add(1, Ordering::SeqCst);
        write_effect(conn, event).await?;
        Ok(())
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), BoxError> {
        let mut ids = Vec::new();
        let mut orders = Vec::new();
        for event in events {
            let payload: OrderCreated = event.payload()?;
            ids.push(event.event_id);
            orders.push(payload.order_id);
        }
        sqlx::query(
            "INSERT INTO effects (event_id, order_id)
             SELECT * FROM unnest($1::uuid[], $2::text[])",
        )
        .bind(&ids)
        .bind(&orders)
        .execute(&mut *conn)
        .await?;
        self.batch_sizes
            .lock()
            .expect("not poisoned")
            .push(events.len());
        if orders.iter().any(|order| order == "order-5") {
            return Err("batches with order-5 are rejected".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn batch_handler_receives_whole_groups() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let batch_sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let single_calls = Arc::new(AtomicUsize::new(0));
    let handler = BatchWriter {
        batch_sizes: Arc::clone(&batch_sizes),
        single_calls: Arc::clone(&single_calls),
    };
    let last = publish_numbered(&nats, 50).await;

    let consumer = start(&test_db, &nats, handler);
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    let sizes = batch_sizes.lock().expect("not poisoned").clone();
    let orders: Vec<String> = sqlx::query_scalar("SELECT order_id FROM effects")
        .fetch_all(&test_db.pool)
        .await
        .expect("effects");
    let mut distinct_orders = orders.clone();
    distinct_orders.sort();
    distinct_orders.dedup();
    assert!(
        sizes.iter().any(|size| *size > 1),
        "batch sizes {sizes:?}; expected a batch of several events"
    );
    assert!(single_calls.load(Ordering::SeqCst) >= 1);
    assert_eq!(orders.len(), 50);
    assert_eq!(distinct_orders.len(), 50);
    assert_eq!(count(&test_db, "inbox").await, 50);
    test_db.drop_now().await;
    nats.delete_streams().await;
}

/// Counts the calls in progress and keeps the maximum seen. Each call waits up to a second for
/// a second call to be in progress, then writes its effect.
struct OverlapRecorder {
    in_progress: Arc<AtomicUsize>,
    max_in_progress: Arc<AtomicUsize>,
}

impl EventHandler for OverlapRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        let now = self.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_progress.fetch_max(now, Ordering::SeqCst);
        for _ in 0..100 {
            if self.in_progress.load(Ordering::SeqCst) > 1 {
                self.max_in_progress.fetch_max(2, Ordering::SeqCst);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        write_effect(conn, event).await?;
        self.in_progress.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn concurrent_pulls_overlap_and_apply_once() {
    let test_db = TestDb::migrated(&SERVICE_MIGRATIONS).await;
    let nats = TestNats::new().await;
    let in_progress = Arc::new(AtomicUsize::new(0));
    let max_in_progress = Arc::new(AtomicUsize::new(0));
    let handler = OverlapRecorder {
        in_progress: Arc::clone(&in_progress),
        max_in_progress: Arc::clone(&max_in_progress),
    };
    let last = publish_numbered(&nats, 20).await;

    // One message per pull and per transaction, so only a second pull can overlap the first.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_consumer(
        nats.jetstream.clone(),
        test_db.pool.clone(),
        system_clock(),
        ConsumerSettings {
            batch_size: 1,
            group_size: 1,
            concurrency: 2,
            ..settings(&nats)
        },
        handler,
        shutdown.clone(),
    ));
    let consumer = Running { shutdown, task };
    wait_until_settled(&nats, last).await;
    consumer.stop().await;

    assert_eq!(max_in_progress.load(Ordering::SeqCst), 2);
    assert_eq!(count(&test_db, "effects").await, 20);
    assert_eq!(count(&test_db, "inbox").await, 20);
    test_db.drop_now().await;
    nats.delete_streams().await;
}
