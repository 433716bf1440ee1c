//! Log lines that carry the trace and span ids of the OpenTelemetry span they were written in,
//! so a log search can jump to the trace and back.
//!
//! [`TraceIds`] wraps a `tracing_subscriber` event format. A text line starts with
//! `trace_id=<32 hex> span_id=<16 hex>`; a JSON line gets top-level `trace_id` and `span_id`
//! keys. A line written outside any span has neither.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// An event format that adds the current trace and span ids to `inner`'s output.
#[derive(Debug, Clone)]
pub struct TraceIds<F> {
    inner: F,
    json: bool,
}

impl<F> TraceIds<F> {
    /// Wraps `inner`, whose output is one JSON object per line when `json`.
    pub fn new(inner: F, json: bool) -> Self {
        Self { inner, json }
    }
}

/// Returns the trace and span ids of the current span, when it has a valid OpenTelemetry
/// context. It reads the global dispatcher, which `init` installs: under a scoped dispatcher
/// (`tracing::subscriber::with_default`) the lookup from inside an event finds no span.
fn current_ids() -> Option<(String, String)> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| {
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    })
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json {
            write!(writer, "trace_id={trace_id} span_id={span_id} ")?;
            return self.inner.format_event(ctx, writer, event);
        }

        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line.trim_end()) {
            Ok(mut object) => {
                object.insert("trace_id".to_owned(), trace_id.into());
                object.insert("span_id".to_owned(), span_id.into());
                let text = serde_json::Value::Object(object).to_string();
                writeln!(writer, "{text}")
            }
            // A line that is not one JSON object is written as the inner format made it.
            Err(_) => writer.write_str(&line),
        }
    }
}
