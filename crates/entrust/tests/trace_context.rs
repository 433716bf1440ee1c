//! Every Entrust request carries the W3C `traceparent` of the `entrust.request` span, a child of
//! the caller's trace.
//!
//! Its own test binary, because it installs a global subscriber with an OpenTelemetry layer.

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use url::Url;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use entrust::{EntrustClient, EntrustConfig, SecretString};

#[tokio::test]
async fn request_carries_the_callers_trace() -> anyhow::Result<()> {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("entrust-test")));
    tracing::subscriber::set_global_default(subscriber)?;

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let base_url = Url::parse(&format!("{}/enterprise/v2", server.uri()))?;
    let config = EntrustConfig::new(base_url, "trace-user", SecretString::from("trace-key"));
    let client = EntrustClient::new(config)?;

    let caller = tracing::info_span!("caller");
    let trace_id = caller.context().span().span_context().trace_id();
    let caller_span_id = caller.context().span().span_context().span_id();
    // The body may not decode as a version; only the request matters here.
    let _ = client.version().instrument(caller).await;

    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1);
    let traceparent = requests[0]
        .headers
        .get("traceparent")
        .expect("the request has a traceparent header")
        .to_str()?
        .to_owned();
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{traceparent}");
    assert_eq!(fields[1], trace_id.to_string(), "{traceparent}");
    // The parent named in the header is the entrust.request span, not the caller itself.
    assert_ne!(fields[2], caller_span_id.to_string(), "{traceparent}");
    Ok(())
}
