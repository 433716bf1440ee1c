//! Helpers shared by the event tests.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, message::StreamMessage};
use certitude_platform::clock::{self, SharedClock};
use certitude_platform::events::EventsSettings;
use certitude_platform::outbox::{Outbox, RelaySettings};
use certitude_proto::events::v1::OrderCreated;
use sqlx::migrate::Migrator;
use tokio::time::Instant;

/// The stand-in service's migrations: an `effects` table.
pub static SERVICE_MIGRATIONS: Migrator = sqlx::migrate!("./tests/migrations");

/// A W3C trace context to send with events.
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Maximum wait for a condition on a real server.
const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `condition` until it holds, failing the test after a generous deadline.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn system_clock() -> SharedClock {
    clock::system()
}

pub fn outbox(events: &EventsSettings, clock: SharedClock) -> Outbox {
    Outbox::new("platform-tests", events, clock)
}

/// Relay settings that retry quickly, so tests of outages finish soon after recovery.
pub fn quick_relay_settings() -> RelaySettings {
    RelaySettings {
        batch_size: 10,
        poll_interval: Duration::from_millis(200),
        publish_timeout: Duration::from_secs(1),
        min_retry_delay: Duration::from_millis(50),
        max_retry_delay: Duration::from_millis(500),
        ..RelaySettings::default()
    }
}

pub fn order_created(order_id: &str) -> OrderCreated {
    OrderCreated {
        order_id: order_id.to_owned(),
        credential_id: "credential-1".to_owned(),
        tracking_id: 4242,
        product: "STANDARD_SSL".to_owned(),
        dns_names: vec!["www.example.com".to_owned()],
        status: "PENDING".to_owned(),
    }
}

/// Reads every message of `stream`, in stream order.
pub async fn stream_messages(jetstream: &jetstream::Context, stream: &str) -> Vec<StreamMessage> {
    let stream = jetstream
        .get_stream(stream)
        .await
        .expect("the stream exists");
    let state = stream
        .get_info()
        .await
        .expect("stream info is available")
        .state;
    let mut messages = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("each stored message can be read");
        messages.push(message);
    }
    messages
}

/// Returns how many messages `stream` holds.
pub async fn message_count(jetstream: &jetstream::Context, stream: &str) -> u64 {
    let stream = jetstream
        .get_stream(stream)
        .await
        .expect("the stream exists");
    stream
        .get_info()
        .await
        .expect("stream info is available")
        .state
        .messages
}

/// Returns the value of header `name`, if present.
pub fn header<'a>(message: &'a StreamMessage, name: &str) -> Option<&'a str> {
    message.headers.get(name).map(|value| value.as_str())
}
