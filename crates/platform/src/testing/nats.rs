//! Fresh streams and subject prefixes per test on a shared NATS server.

use async_nats::jetstream;

use crate::events::{self, EventsSettings};

/// NATS URL used when `CERTITUDE_TEST_NATS_URL` is not set.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// Returns the URL of the test NATS server: `CERTITUDE_TEST_NATS_URL`, or
/// [`DEFAULT_NATS_URL`].
pub fn nats_url() -> String {
    std::env::var("CERTITUDE_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_owned())
}

/// A main and a dead-letter stream with names and subject prefixes no other test uses
/// (`TEST_<random>`, `test_<random>`), created on a NATS server with JetStream.
///
/// [`TestNats::delete_streams`] deletes both streams, and dropping the value tries the same.
#[derive(Debug)]
pub struct TestNats {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    pub settings: EventsSettings,
    url: String,
    deleted: bool,
}

impl TestNats {
    /// Creates fresh streams on the shared test server.
    pub async fn new() -> Self {
        Self::on(&nats_url()).await
    }

    /// Creates fresh streams on the server at `url`, such as a [`super::TestNatsServer`].
    pub async fn on(url: &str) -> Self {
        let client = async_nats::connect(url).await.unwrap_or_else(|error| {
            panic!("test NATS at {url} is unreachable ({error}); run `make deps`")
        });
        let jetstream = jetstream::new(client.clone());
        let suffix = super::unique_suffix();
        let settings = EventsSettings::new(format!("TEST_{suffix}"), format!("test_{suffix}"));
        events::ensure_streams(&jetstream, &settings)
            .await
            .unwrap_or_else(|error| panic!("creating test streams on {url} failed: {error:?}"));
        Self {
            client,
            jetstream,
            settings,
            url: url.to_owned(),
            deleted: false,
        }
    }

    /// Deletes both streams.
    pub async fn delete_streams(mut self) {
        delete(&self.jetstream, &self.settings).await;
        self.deleted = true;
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let url = self.url.clone();
        let settings = self.settings.clone();
        super::block_on_elsewhere(async move {
            let options = async_nats::ConnectOptions::new()
                .connection_timeout(std::time::Duration::from_secs(2));
            if let Ok(client) = options.connect(&url).await {
                delete(&jetstream::new(client), &settings).await;
            }
        });
    }
}

/// Deletes the streams of `settings`, as a best effort because a leftover stream harms no
/// other test.
async fn delete(jetstream: &jetstream::Context, settings: &EventsSettings) {
    for stream in [&settings.stream, &settings.dead_letter_stream] {
        if let Err(error) = jetstream.delete_stream(stream).await {
            eprintln!("deleting test stream {stream} failed: {error}");
        }
    }
}
