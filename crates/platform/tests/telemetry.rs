//! W3C trace context helpers and the global subscriber installation.
//!
//! Only `init_installs_subscriber_once` installs a global subscriber; the other tests use a
//! subscriber scoped to their thread, so they run alongside it in one process.

use certitude_platform::telemetry::{
    LogFormat, TelemetryError, TelemetrySettings, TraceContextError, current_traceparent, init,
    set_parent_from_traceparent,
};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt;

/// Runs `body` with a thread-local subscriber that has an OpenTelemetry layer and no exporter.
fn with_otel_layer(body: impl FnOnce()) {
    let provider = SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("telemetry-test"));
    let subscriber = Registry::default().with(layer);
    tracing::subscriber::with_default(subscriber, body);
}

/// The fields of a `traceparent`, checked against the W3C format.
struct Traceparent {
    trace_id: String,
    span_id: String,
}

fn parse_traceparent(value: &str) -> Traceparent {
    let fields: Vec<&str> = value.split('-').collect();
    assert_eq!(fields.len(), 4, "{value}");
    let is_lower_hex = |field: &str| {
        field
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    assert_eq!(fields[0], "00", "version of {value}");
    assert_eq!(fields[1].len(), 32, "trace id of {value}");
    assert!(is_lower_hex(fields[1]), "trace id of {value}");
    assert_ne!(fields[1], "0".repeat(32), "trace id of {value}");
    assert_eq!(fields[2].len(), 16, "span id of {value}");
    assert!(is_lower_hex(fields[2]), "span id of {value}");
    assert_ne!(fields[2], "0".repeat(16), "span id of {value}");
    assert_eq!(fields[3], "01", "flags of {value} (sampled)");
    Traceparent {
        trace_id: fields[1].to_owned(),
        span_id: fields[2].to_owned(),
    }
}

#[test]
fn current_traceparent_is_well_formed() {
    with_otel_layer(|| {
        let span = tracing::info_span!("outgoing");
        let _entered = span.enter();

        let traceparent = current_traceparent().expect("a span is current");

        parse_traceparent(&traceparent);
    });
}

#[test]
fn remote_parent_keeps_the_trace_id() {
    with_otel_layer(|| {
        let caller = tracing::info_span!("caller");
        let sent = caller.in_scope(|| current_traceparent().expect("a span is current"));
        let sent = parse_traceparent(&sent);

        let handler = tracing::info_span!("handler");
        set_parent_from_traceparent(
            &handler,
            &format!("00-{}-{}-01", sent.trace_id, sent.span_id),
        )
        .unwrap();
        let received = handler.in_scope(|| current_traceparent().expect("a span is current"));
        let received = parse_traceparent(&received);

        assert_eq!(received.trace_id, sent.trace_id);
        assert_ne!(received.span_id, sent.span_id);
    });
}

#[test]
fn traceparent_from_another_system_is_adopted() {
    let remote = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    with_otel_layer(|| {
        let handler = tracing::info_span!("handler");
        set_parent_from_traceparent(&handler, remote).unwrap();

        let received = handler.in_scope(|| current_traceparent().expect("a span is current"));

        assert_eq!(
            parse_traceparent(&received).trace_id,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    });
}

#[test]
fn malformed_traceparent_is_rejected() {
    with_otel_layer(|| {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            let span = tracing::info_span!("handler");

            let result = set_parent_from_traceparent(&span, bad);

            assert!(
                matches!(result, Err(TraceContextError::Malformed { .. })),
                "{bad:?} gave {result:?}"
            );
        }
    });
}

#[test]
fn no_current_span_gives_no_traceparent() {
    with_otel_layer(|| {
        assert_eq!(current_traceparent(), None);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_installs_subscriber_once() {
    // A collector address that refuses connections: the exporter connects lazily, and spans
    // that fail to export are dropped, which is all this test needs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = TelemetrySettings {
        log_filter: "info".to_owned(),
        log_format: LogFormat::Json,
        otlp_endpoint: Some(endpoint),
        service_name: None,
    };

    let guard = init("telemetry-test", &settings).unwrap();
    let traceparent = tracing::info_span!("request").in_scope(current_traceparent);
    let second = init("telemetry-test", &TelemetrySettings::default());

    parse_traceparent(&traceparent.expect("the global subscriber has the OpenTelemetry layer"));
    assert!(
        matches!(second, Err(TelemetryError::AlreadyInitialized(_))),
        "{second:?}"
    );
    drop(guard);
}

#[test]
fn invalid_filter_is_rejected_before_installing() {
    let settings = TelemetrySettings {
        log_filter: "info,[".to_owned(),
        ..TelemetrySettings::default()
    };

    let error = init("telemetry-test", &settings).unwrap_err();

    assert!(matches!(error, TelemetryError::Filter { .. }), "{error:?}");
}
