//! W3C trace context across process boundaries: reading the current span's `traceparent` for
//! outgoing gRPC metadata, HTTP headers and NATS headers, and making an incoming request's span
//! a child of the caller's span.
//!
//! These helpers use the TraceContext propagator directly rather than the global one, so they
//! behave the same whether or not [`init`](super::init) ran. They need the OpenTelemetry layer
//! of [`init`](super::init) (or another `tracing-opentelemetry` layer) to find span contexts.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::{OpenTelemetrySpanExt, SetParentError};

/// Header and metadata key of the W3C trace parent.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Returns the W3C `traceparent` of the current span, such as
/// `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`, or `None` when there is no
/// current span or no OpenTelemetry layer.
pub fn current_traceparent() -> Option<String> {
    let mut carrier = HashMap::new();
    inject_current_context(&mut carrier);
    carrier.remove(TRACEPARENT_HEADER)
}

/// Writes the current span's `traceparent` (and `tracestate`, when there is one) into
/// `injector`. Writes nothing when there is no valid current span context.
pub fn inject_current_context(injector: &mut dyn Injector) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, injector);
    }
}

/// Makes `span` a child of the remote span that `traceparent` names.
///
/// Call it before the span is first entered. Fails when `traceparent` is malformed, when the
/// span is disabled by the log filter, or when no OpenTelemetry layer is installed. A caller
/// serving a request should log the error at debug and carry on: a bad header from a client
/// must not fail the request.
pub fn set_parent_from_traceparent(
    span: &tracing::Span,
    traceparent: &str,
) -> Result<(), TraceContextError> {
    let carrier = HashMap::from([(TRACEPARENT_HEADER.to_owned(), traceparent.to_owned())]);
    set_parent(span, &carrier, traceparent)
}

/// Makes `span` a child of the remote span named by the `traceparent` and `tracestate` headers.
/// Does nothing when there is no `traceparent` header; otherwise fails like
/// [`set_parent_from_traceparent`].
pub fn set_parent_from_headers(
    span: &tracing::Span,
    headers: &HeaderMap,
) -> Result<(), TraceContextError> {
    let Some(traceparent) = headers.get(TRACEPARENT_HEADER) else {
        return Ok(());
    };
    let traceparent_text = String::from_utf8_lossy(traceparent.as_bytes()).into_owned();
    set_parent(span, &HeaderExtractor(headers), &traceparent_text)
}

fn set_parent(
    span: &tracing::Span,
    extractor: &dyn Extractor,
    traceparent: &str,
) -> Result<(), TraceContextError> {
    let context: Context = TraceContextPropagator::new().extract(extractor);
    if !is_well_formed(traceparent) || !context.span().span_context().is_valid() {
        return Err(TraceContextError::Malformed {
            traceparent: traceparent.to_owned(),
        });
    }
    span.set_parent(context).map_err(TraceContextError::Attach)
}

/// Checks the field lengths the W3C format fixes, which the OpenTelemetry propagator does not:
/// `version-trace_id-parent_id-flags` with 2, 32, 16 and 2 lowercase hex digits.
fn is_well_formed(traceparent: &str) -> bool {
    let lengths = [2, 32, 16, 2];
    let fields: Vec<&str> = traceparent.trim().split('-').collect();
    fields.len() >= lengths.len()
        && fields.iter().zip(lengths).all(|(field, length)| {
            field.len() == length
                && field
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Reads trace context from HTTP headers (gRPC metadata is carried in HTTP/2 headers).
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes trace context into HTTP headers. Values that are not valid header values are
/// skipped (the propagator only produces ASCII, so this does not happen in practice).
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            return;
        };
        let Ok(value) = HeaderValue::from_str(&value) else {
            return;
        };
        self.0.insert(name, value);
    }
}

/// Errors in attaching a remote trace context to a span.
#[derive(Debug, thiserror::Error)]
pub enum TraceContextError {
    /// The `traceparent` value is not in the W3C format.
    #[error(
        "invalid traceparent {traceparent:?}: expected 00-<32 hex trace id>-<16 hex span id>-<2 \
         hex flags>, with non-zero ids"
    )]
    Malformed {
        /// The rejected value.
        traceparent: String,
    },
    /// The span cannot take a parent: no OpenTelemetry layer, a disabled span, or a span that
    /// has already started.
    #[error("failed to set the span's remote parent")]
    Attach(#[source] SetParentError),
}
