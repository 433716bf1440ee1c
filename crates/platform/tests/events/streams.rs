//! The main and dead-letter streams.

use std::time::Duration;

use async_nats::jetstream::stream::StorageType;
use certitude_platform::events::{self, EventsSettings};
use certitude_platform::testing::TestNats;

#[tokio::test]
async fn ensure_streams_creates_separate_dead_letter_stream() {
    let nats = TestNats::new().await;
    let settings = &nats.settings;

    let main = nats
        .jetstream
        .get_stream(&settings.stream)
        .await
        .expect("main stream exists");
    let dead = nats
        .jetstream
        .get_stream(&settings.dead_letter_stream)
        .await
        .expect("dead-letter stream exists");
    let main = main.get_info().await.expect("main info").config;
    let dead = dead.get_info().await.expect("dead-letter info").config;

    assert_eq!(
        main.subjects,
        vec![format!("{}.>", settings.subject_prefix)]
    );
    assert_eq!(
        dead.subjects,
        vec![format!("{}.>", settings.dead_letter_prefix)]
    );
    assert_eq!(main.storage, StorageType::File);
    assert_eq!(main.duplicate_window, Duration::from_secs(120));
    assert_eq!(main.max_age, Duration::from_secs(30 * 24 * 60 * 60));
    assert_eq!(main.num_replicas, 1);
    nats.delete_streams().await;
}

#[tokio::test]
async fn ensure_streams_updates_existing_streams() {
    let nats = TestNats::new().await;
    let settings = EventsSettings {
        max_age: Duration::from_secs(7 * 24 * 60 * 60),
        ..nats.settings.clone()
    };

    events::ensure_streams(&nats.jetstream, &settings)
        .await
        .expect("existing streams are updated");

    let main = nats
        .jetstream
        .get_stream(&settings.stream)
        .await
        .expect("main stream exists");
    let config = main.get_info().await.expect("main info").config;
    assert_eq!(config.max_age, Duration::from_secs(7 * 24 * 60 * 60));
    nats.delete_streams().await;
}
