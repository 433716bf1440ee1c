//! No credential reaches errors, `Debug` output or tracing output.
//!
//! This is its own test binary with one test that installs a global subscriber: `tracing`
//! caches per-callsite interest process-wide, so a thread-local subscriber in a binary whose
//! other tests run in parallel can miss spans.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use entrust::Error;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entrust::{EntrustClient, EntrustConfig, SecretString};
use url::Url;

const TEST_API_KEY: &str = "redaction-api-key-5be1f09c43d2";
const TEST_USER: &str = "certitude-redaction";

fn assert_no_secret(text: &str, context: &str) {
    let encoded = STANDARD.encode(format!("{TEST_USER}:{TEST_API_KEY}"));
    assert!(
        !text.contains(TEST_API_KEY),
        "{context} contains the API key: {text}"
    );
    assert!(
        !text.contains(&encoded),
        "{context} contains the Basic credentials: {text}"
    );
}

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn errors_and_traces_never_contain_credentials() -> anyhow::Result<()> {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    tracing::subscriber::set_global_default(subscriber)?;

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"status": 401, "errors": [{"message": "Invalid credentials"}]}),
            ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(504))
        .mount(&server)
        .await;
    let base_url = format!("{}/enterprise/v2", server.uri());
    let mut config = EntrustConfig::new(
        Url::parse(&base_url)?,
        TEST_USER,
        SecretString::from(TEST_API_KEY),
    );
    config.max_retries = 2;
    config.initial_backoff = std::time::Duration::from_millis(5);
    let client = EntrustClient::new(config.clone())?;

    let rejected = client.version().await.err();
    let unavailable = client.organizations().await.err();
    let order = entrust::model::NewOrder {
        product: "STANDARD_SSL".to_owned(),
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
            .to_owned(),
        dns_names: Vec::new(),
        client_id: None,
        organization: None,
        expires_on: time::macros::date!(2027 - 01 - 01),
        lifetime: None,
        eku: None,
        tracking_marker: None,
        requester: entrust::model::Requester::default(),
        queue_for_approval: false,
        validate_only: false,
    };
    let unknown = client.place_order(&order).await.err();

    assert!(
        matches!(rejected, Some(Error::CredentialsRejected { .. })),
        "{rejected:?}"
    );
    assert!(
        matches!(unavailable, Some(Error::Unavailable { .. })),
        "{unavailable:?}"
    );
    assert!(
        matches!(unknown, Some(Error::OutcomeUnknown { .. })),
        "{unknown:?}"
    );
    for error in [&rejected, &unavailable, &unknown].into_iter().flatten() {
        assert_no_secret(&error.to_string(), "error Display");
        assert_no_secret(&format!("{error:?}"), "error Debug");
    }
    assert_no_secret(&format!("{config:?}"), "config Debug");
    assert_no_secret(&format!("{client:?}"), "client Debug");

    let traces = capture.text();
    assert!(
        traces.contains("entrust.request"),
        "no span was recorded: {traces}"
    );
    assert!(traces.contains("retrying an Entrust call"), "{traces}");
    assert!(traces.contains("entrust.endpoint"), "{traces}");
    assert_no_secret(&traces, "tracing output");

    // The credentials did travel, in the Authorization header only.
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(
        requests
            .iter()
            .all(|request| request.headers.contains_key("authorization"))
    );
    Ok(())
}
