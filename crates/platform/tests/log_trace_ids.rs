//! Log lines carry the trace and span ids of the span they are written in, in the text and the
//! JSON format. The subscriber is the process's global one, as `telemetry::init` installs it,
//! so this file contains a single test.

use std::io;
use std::sync::{Arc, Mutex};

use certitude_platform::telemetry::{TraceIds, current_traceparent};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;

/// A writer that keeps every line in memory.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("not poisoned").clone()).expect("UTF-8 lines")
    }
}

impl io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn log_lines_carry_trace_and_span_ids() {
    let text = Lines::default();
    let json = Lines::default();
    let (text_writer, json_writer) = (text.clone(), json.clone());
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TraceIds::new(tracing_subscriber::fmt::format(), false))
                .with_ansi(false)
                .with_writer(move || text_writer.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .event_format(TraceIds::new(
                    tracing_subscriber::fmt::format().json(),
                    true,
                ))
                .with_writer(move || json_writer.clone()),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("log-test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    tracing::info!("outside any span");
    let span = tracing::info_span!("request");
    let traceparent = span.in_scope(|| {
        tracing::info!(order.id = "order-1", "inside the span");
        current_traceparent().expect("the span has a trace context")
    });

    let mut parts = traceparent.split('-');
    let trace_id = parts.nth(1).expect("a trace id").to_owned();
    let span_id = parts.next().expect("a span id").to_owned();
    let text = text.text();
    let text_lines: Vec<&str> = text.lines().collect();
    let json = json.text();
    let json_lines: Vec<serde_json::Value> = json
        .lines()
        .map(|line| serde_json::from_str(line).expect("each JSON line parses"))
        .collect();
    assert_eq!(text_lines.len(), 2, "{text}");
    assert!(!text_lines[0].contains("trace_id="), "{}", text_lines[0]);
    assert!(
        text_lines[1].starts_with(&format!("trace_id={trace_id} span_id={span_id} ")),
        "{}",
        text_lines[1]
    );
    assert!(
        text_lines[1].contains("inside the span"),
        "{}",
        text_lines[1]
    );
    assert_eq!(json_lines.len(), 2, "{json}");
    assert!(json_lines[0].get("trace_id").is_none(), "{}", json_lines[0]);
    assert_eq!(json_lines[1]["trace_id"], trace_id.as_str());
    assert_eq!(json_lines[1]["span_id"], span_id.as_str());
    assert_eq!(json_lines[1]["fields"]["message"], "inside the span");
    assert_eq!(json_lines[1]["fields"]["order.id"], "order-1");
}
