//! W3C trace context on outgoing Entrust requests, so a collector that also receives spans from
//! an instrumented proxy or gateway in front of Entrust joins them to the caller's trace.

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Returns the `traceparent` (and `tracestate`) headers of the current span, or no headers
/// when there is no valid span context (no OpenTelemetry layer, or a span the filter disabled).
pub(super) fn trace_context_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderWriter(&mut headers));
    }
    headers
}

struct HeaderWriter<'a>(&'a mut HeaderMap);

impl Injector for HeaderWriter<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator writes ASCII names and values only, so neither conversion fails.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
