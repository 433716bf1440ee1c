//! An OTLP/gRPC receiver in the test process: the collector's trace and metrics services on
//! `127.0.0.1:0`, keeping every exported span and metric point in memory so a test can follow a
//! trace across services and read the instruments' values.

use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// Everything the receiver was sent.
#[derive(Debug, Default)]
struct Received {
    spans: Vec<Span>,
    metrics: Vec<Metric>,
    /// Attribute values of every resource that exported, such as `service.name`.
    resource_values: Vec<String>,
}

#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Received>>,
}

impl Collector {
    fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut received = self.lock();
        for resource_spans in request.into_inner().resource_spans {
            if let Some(resource) = &resource_spans.resource {
                received
                    .resource_values
                    .extend(resource.attributes.iter().map(attribute_text));
            }
            for scope_spans in resource_spans.scope_spans {
                received.spans.extend(scope_spans.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let mut received = self.lock();
        for resource_metrics in request.into_inner().resource_metrics {
            if let Some(resource) = &resource_metrics.resource {
                received
                    .resource_values
                    .extend(resource.attributes.iter().map(attribute_text));
            }
            for scope_metrics in resource_metrics.scope_metrics {
                received.metrics.extend(scope_metrics.metrics);
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// A running receiver; dropping it stops the server.
pub struct OtlpReceiver {
    /// The endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT`, such as `http://127.0.0.1:40123`.
    pub endpoint: String,
    collector: Collector,
    _stop: oneshot::Sender<()>,
}

impl OtlpReceiver {
    /// Starts the trace and metrics services on an ephemeral loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let collector = Collector::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            });
        tokio::spawn(server);
        Ok(Self {
            endpoint,
            collector,
            _stop: stop,
        })
    }

    /// Returns every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.collector.lock().spans.clone()
    }

    /// Returns the Prometheus names of every metric received so far (see
    /// [`prometheus_names`]).
    pub fn prometheus_names(&self) -> std::collections::BTreeSet<String> {
        let received = self.collector.lock();
        received.metrics.iter().flat_map(prometheus_names).collect()
    }

    /// Returns every metric received so far, one entry per metric per export.
    pub fn metrics(&self) -> Vec<Metric> {
        self.collector.lock().metrics.clone()
    }

    /// Returns every attribute value received so far as text: resource, span, span event and
    /// metric data point attributes, for a search for secrets.
    pub fn attribute_values(&self) -> Vec<String> {
        let received = self.collector.lock();
        let mut values = received.resource_values.clone();
        for span in &received.spans {
            values.push(span.name.clone());
            values.extend(span.attributes.iter().map(attribute_text));
            for event in &span.events {
                values.push(event.name.clone());
                values.extend(event.attributes.iter().map(attribute_text));
            }
        }
        for metric in &received.metrics {
            values.extend(point_attributes(metric).iter().map(attribute_text));
        }
        values
    }
}

/// One data point of a metric: its attributes and its value, which is the count of
/// observations for a histogram.
#[derive(Debug, Clone)]
pub struct Point {
    pub attributes: Vec<KeyValue>,
    pub value: f64,
}

impl Point {
    /// Returns the value of the attribute `key` as text, when the point has it.
    pub fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.attributes, key)
    }
}

impl OtlpReceiver {
    /// Returns the data points of the last export of the metric `name`; the SDK exports
    /// cumulative sums, so the last export contains the totals.
    pub fn latest_points(&self, name: &str) -> Vec<Point> {
        let received = self.collector.lock();
        received
            .metrics
            .iter()
            .rev()
            .find(|metric| metric.name == name)
            .map(points)
            .unwrap_or_default()
    }
}

/// Returns the data points of `metric`.
pub fn points(metric: &Metric) -> Vec<Point> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    let number = |value: &Option<Value>| match value {
        Some(Value::AsDouble(value)) => *value,
        Some(Value::AsInt(value)) => *value as f64,
        None => 0.0,
    };
    match &metric.data {
        Some(Data::Sum(sum)) => sum
            .data_points
            .iter()
            .map(|point| Point {
                attributes: point.attributes.clone(),
                value: number(&point.value),
            })
            .collect(),
        Some(Data::Gauge(gauge)) => gauge
            .data_points
            .iter()
            .map(|point| Point {
                attributes: point.attributes.clone(),
                value: number(&point.value),
            })
            .collect(),
        Some(Data::Histogram(histogram)) => histogram
            .data_points
            .iter()
            .map(|point| Point {
                attributes: point.attributes.clone(),
                value: point.count as f64,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Returns the names under which the Collector's Prometheus exporter (with its default
/// `add_metric_suffixes: true`) publishes `metric`. Dots become underscores and the unit
/// becomes a suffix (`s` as `_seconds`, while annotations in braces add none). A monotonic sum
/// gets `_total`, and a histogram becomes its `_bucket`, `_sum` and `_count` series.
pub fn prometheus_names(metric: &Metric) -> Vec<String> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let mut base = metric.name.replace(['.', '-'], "_");
    let unit_suffix = match metric.unit.as_str() {
        "s" => Some("seconds"),
        "ms" => Some("milliseconds"),
        "By" => Some("bytes"),
        "1" if matches!(metric.data, Some(Data::Gauge(_))) => Some("ratio"),
        _ => None,
    };
    if let Some(suffix) = unit_suffix
        && !base.ends_with(suffix)
    {
        base = format!("{base}_{suffix}");
    }
    match &metric.data {
        Some(Data::Sum(sum)) if sum.is_monotonic => vec![format!("{base}_total")],
        Some(Data::Histogram(_)) => vec![
            format!("{base}_bucket"),
            format!("{base}_sum"),
            format!("{base}_count"),
        ],
        _ => vec![base],
    }
}

/// Returns the attributes of every data point of `metric`.
pub fn point_attributes(metric: &Metric) -> Vec<KeyValue> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    match &metric.data {
        Some(Data::Sum(sum)) => sum
            .data_points
            .iter()
            .flat_map(|point| point.attributes.clone())
            .collect(),
        Some(Data::Gauge(gauge)) => gauge
            .data_points
            .iter()
            .flat_map(|point| point.attributes.clone())
            .collect(),
        Some(Data::Histogram(histogram)) => histogram
            .data_points
            .iter()
            .flat_map(|point| point.attributes.clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// Returns the value of the attribute `key` as text, when the list has it.
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .map(value_text)
}

/// Returns `key=value` of one attribute, with the value as text.
fn attribute_text(attribute: &KeyValue) -> String {
    format!(
        "{}={}",
        attribute.key,
        attribute.value.as_ref().map(value_text).unwrap_or_default()
    )
}

fn value_text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(any_value::Value::ArrayValue(array)) => array
            .values
            .iter()
            .map(value_text)
            .collect::<Vec<_>>()
            .join(","),
        Some(any_value::Value::KvlistValue(list)) => list
            .values
            .iter()
            .map(attribute_text)
            .collect::<Vec<_>>()
            .join(","),
        // An index into a profile's string table, which traces and metrics do not use.
        Some(any_value::Value::StringValueStrindex(index)) => index.to_string(),
        None => String::new(),
    }
}
