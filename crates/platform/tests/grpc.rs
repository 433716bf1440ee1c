//! The gRPC server bootstrap against a real client: health status while serving and while
//! draining, graceful shutdown, and the trace context carried from client to server.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use certitude_platform::grpc::{GrpcError, GrpcServer, connect_lazy, traced};
use certitude_platform::shutdown::Shutdown;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Bound on how long a stopping server may take in these tests before they fail.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// A named service that returns UNIMPLEMENTED for every call.
#[derive(Clone)]
struct Placeholder;

impl NamedService for Placeholder {
    const NAME: &'static str = "certitude.test.Placeholder";
}

impl tower::Service<http::Request<Body>> for Placeholder {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        ready(Ok(tonic::Status::unimplemented("placeholder").into_http()))
    }
}

struct RunningServer {
    address: SocketAddr,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), GrpcError>>,
}

impl RunningServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port succeeds");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shutdown = Shutdown::new();
        let server = GrpcServer::new().add_service(Placeholder);
        let task = tokio::spawn(server.serve(listener, shutdown.cancelled()));
        Self {
            address,
            shutdown,
            task,
        }
    }

    fn client(&self) -> HealthClient<tonic::transport::Channel> {
        let url = format!("http://{}", self.address);
        let channel = connect_lazy(&url, Duration::from_secs(5)).expect("the URL is valid");
        HealthClient::new(channel)
    }

    async fn stop(self) {
        self.shutdown.trigger();
        let finished = tokio::time::timeout(STOP_DEADLINE, self.task)
            .await
            .expect("the server stops after shutdown is triggered");
        let result = finished.expect("the server task does not panic");
        result.expect("the server stops without error");
    }
}

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn health_check_reports_serving() {
    let server = RunningServer::start().await;
    let mut client = server.client();

    let whole = client.check(check("")).await.unwrap().into_inner();
    let placeholder = client
        .check(check(Placeholder::NAME))
        .await
        .unwrap()
        .into_inner();
    let unknown = client.check(check("certitude.test.Missing")).await;

    assert_eq!(whole.status(), ServingStatus::Serving);
    assert_eq!(placeholder.status(), ServingStatus::Serving);
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_reports_not_serving_then_stops() {
    let server = RunningServer::start().await;
    let mut client = server.client();
    let mut watch = client.watch(check("")).await.unwrap().into_inner();
    let first = watch.message().await.unwrap().expect("an initial status");

    server.shutdown.trigger();
    let draining = watch
        .message()
        .await
        .unwrap()
        .expect("a status on shutdown");
    drop(watch);

    assert_eq!(first.status(), ServingStatus::Serving);
    assert_eq!(draining.status(), ServingStatus::NotServing);
    server.stop().await;
}

/// Returns the exporter of the subscriber this test binary installs globally. A global
/// subscriber, unlike a thread-local one, records spans whose callsites other tests registered
/// first.
fn exported_spans() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("grpc-test"));
        // The server's call spans are at info; h2's trace-level spans would only add noise.
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(layer)
            .try_init()
            .expect("no other test in this binary installs a subscriber");
        exporter
    })
}

#[tokio::test]
async fn call_span_continues_the_callers_trace() {
    let exporter = exported_spans();
    let server = RunningServer::start().await;
    let url = format!("http://{}", server.address);
    let mut client = HealthClient::new(traced(connect_lazy(&url, Duration::from_secs(5)).unwrap()));

    let caller = tracing::info_span!("caller");
    let caller_context = caller.context();
    let response = client.check(check("")).instrument(caller).await;
    server.stop().await;

    assert!(response.is_ok(), "{response:?}");
    let caller_span = caller_context.span();
    let caller_ids = caller_span.span_context();
    // Other tests' calls are in the exporter too, each in a trace of its own.
    let spans = exporter.get_finished_spans().unwrap();
    let call = spans
        .iter()
        .filter(|span| span.name == "grpc.health.v1.Health/Check")
        .find(|span| span.span_context.trace_id() == caller_ids.trace_id())
        .expect("the server exported a span for the call in the caller's trace");
    assert_eq!(call.parent_span_id, caller_ids.span_id());
    let attribute = |key: &str| {
        call.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(
        attribute("rpc.service").as_deref(),
        Some("grpc.health.v1.Health")
    );
    assert_eq!(attribute("rpc.method").as_deref(), Some("Check"));
}
