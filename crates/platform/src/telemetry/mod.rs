//! Logging, tracing and metrics for a service: a `tracing` subscriber with an `EnvFilter`, text
//! or JSON output on stdout, and an OpenTelemetry layer that gives every span a W3C trace
//! context. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans and the instruments of
//! [`metrics`] are exported over OTLP/gRPC; metrics every `OTEL_METRIC_EXPORT_INTERVAL`
//! milliseconds (60000 by default, read by the OpenTelemetry SDK).
//!
//! Log lines written inside a span carry its trace and span ids (see [`TraceIds`]).
//!
//! The OpenTelemetry layer is installed even without an endpoint, so trace ids still cross
//! gRPC calls and NATS messages (see [`current_traceparent`]) and a downstream service that
//! does export joins the same trace.

mod log_format;
pub mod metrics;
mod propagation;

use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use log_format::TraceIds;
pub use propagation::{
    HeaderExtractor, HeaderInjector, TRACEPARENT_HEADER, TraceContextError, current_traceparent,
    inject_current_context, set_parent_from_headers, set_parent_from_traceparent,
};

/// Instrumentation scope of the spans this crate's subscriber exports.
const TRACER_NAME: &str = "certitude";

/// Format of log lines on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for development.
    #[default]
    Text,
    /// One JSON object per line, for log collectors in production.
    Json,
}

/// Settings of [`init`], taken from the configuration.
#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    /// `EnvFilter` directives (the `RUST_LOG` syntax), such as `info,sqlx=warn`.
    pub log_filter: String,
    /// Output format of log lines.
    pub log_format: LogFormat,
    /// OTLP/gRPC collector endpoint, such as `http://127.0.0.1:4317`. `None` disables export.
    pub otlp_endpoint: Option<String>,
    /// Overrides the `service.name` resource attribute (`OTEL_SERVICE_NAME`).
    pub service_name: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_filter: "info".to_owned(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            service_name: None,
        }
    }
}

/// Keeps the tracer provider alive; dropping it flushes the spans still queued and shuts the
/// exporter down.
///
/// Drop it on a multi-threaded Tokio runtime (or outside any runtime): the flush blocks the
/// dropping thread while the OTLP client, which runs on the runtime, sends the last batch.
#[must_use = "dropping the guard stops span export"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    /// The metrics pipeline; `None` without an OTLP endpoint.
    meter_provider: Option<SdkMeterProvider>,
}

impl TelemetryGuard {
    /// Exports the spans that ended so far and the metrics' current values without waiting
    /// for the export intervals. Blocks like the drop does, so call it from a multi-threaded
    /// Tokio runtime or outside any runtime.
    pub fn flush(&self) -> Result<(), TelemetryError> {
        self.provider.force_flush().map_err(TelemetryError::Flush)?;
        if let Some(meter_provider) = &self.meter_provider {
            meter_provider
                .force_flush()
                .map_err(TelemetryError::Flush)?;
        }
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(error = %error, "failed to flush spans to the OTLP collector");
        }
        if let Some(meter_provider) = &self.meter_provider
            && let Err(error) = meter_provider.shutdown()
        {
            tracing::warn!(error = %error, "failed to flush metrics to the OTLP collector");
        }
    }
}

/// Installs the global `tracing` subscriber and the W3C TraceContext propagator.
///
/// `service_name` becomes the `service.name` resource attribute unless
/// [`TelemetrySettings::service_name`] overrides it. With an OTLP endpoint, spans go to a batch
/// span processor whose exporter is a tonic client, so this must be called inside a Tokio
/// runtime.
///
/// A second call in the same process returns [`TelemetryError::AlreadyInitialized`] and
/// changes nothing.
pub fn init(
    service_name: &str,
    settings: &TelemetrySettings,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter =
        EnvFilter::try_new(&settings.log_filter).map_err(|source| TelemetryError::Filter {
            filter: settings.log_filter.clone(),
            source,
        })?;
    let service_name = settings.service_name.as_deref().unwrap_or(service_name);
    let provider = tracer_provider(service_name, settings.otlp_endpoint.as_deref())?;
    let meter_provider = settings
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| meter_provider(service_name, endpoint))
        .transpose()?;
    let otel_layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(TRACER_NAME));

    let (text_layer, json_layer) = match settings.log_format {
        LogFormat::Text => {
            let format = TraceIds::new(tracing_subscriber::fmt::format(), false);
            (
                // Colours only on a terminal: in a log file they are escape codes.
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                        .event_format(format),
                ),
                None,
            )
        }
        LogFormat::Json => {
            let format = TraceIds::new(tracing_subscriber::fmt::format().json(), true);
            let layer = tracing_subscriber::fmt::layer().json().event_format(format);
            (None, Some(layer))
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(text_layer)
        .with(json_layer)
        .with(otel_layer)
        .try_init()
        .map_err(TelemetryError::AlreadyInitialized)?;

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(meter_provider) = &meter_provider {
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        metrics::start_counters_at_zero();
    }
    tracing::debug!(
        service.name = service_name,
        otlp.endpoint = settings.otlp_endpoint.as_deref(),
        "telemetry initialized"
    );
    Ok(TelemetryGuard {
        provider,
        meter_provider,
    })
}

/// Builds the tracer provider, with a batch OTLP exporter when an endpoint is given.
fn tracer_provider(
    service_name: &str,
    otlp_endpoint: Option<&str>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|source| TelemetryError::Exporter {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        // The SDK's batch processor exports from a thread of its own. The tonic client it
        // calls runs on the Tokio runtime that was current when the exporter was built.
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// Builds the meter provider with a periodic reader and an OTLP/gRPC metric exporter, whose
/// temporality is cumulative (what the Collector's Prometheus exporter expects).
fn meter_provider(service_name: &str, endpoint: &str) -> Result<SdkMeterProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(PeriodicReader::builder(exporter).build())
        .build())
}

/// Errors of the telemetry layer.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid RUST_LOG filter {filter:?}: expected directives such as info,sqlx=warn")]
    Filter {
        /// The rejected directives.
        filter: String,
        /// The parser's error.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The OTLP exporter could not be built from the endpoint.
    #[error(
        "failed to build the OTLP exporter for {endpoint:?}: check OTEL_EXPORTER_OTLP_ENDPOINT"
    )]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// The exporter's error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The exporter failed to send the queued spans or the metrics.
    #[error("failed to flush spans or metrics to the OTLP collector")]
    Flush(#[source] opentelemetry_sdk::error::OTelSdkError),
    /// A global subscriber is already installed in this process.
    #[error("telemetry is already initialized in this process: call init once, at startup")]
    AlreadyInitialized(#[source] tracing_subscriber::util::TryInitError),
}
