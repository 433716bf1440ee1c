//! The gRPC server of a service: its services plus `grpc.health.v1.Health`, a span per call
//! that continues the caller's trace, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;

use http::{Request, Response};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::{HealthReporter, HealthService};
use tower::Service;

use super::GrpcError;
use crate::telemetry::set_parent_from_headers;

/// Name of the whole server in the health service (the gRPC health protocol's empty name).
const SERVER_HEALTH_NAME: &str = "";

/// Builder and runner of a service's gRPC server.
///
/// Every added service, and the server as a whole (the empty service name), reports SERVING in
/// `grpc.health.v1.Health` while the server runs and NOT_SERVING from the moment the shutdown
/// future resolves, while in-flight calls drain.
pub struct GrpcServer {
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    health: HealthReporter,
}

impl GrpcServer {
    /// Creates a server with only the health service.
    pub fn new() -> Self {
        Self {
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            health: HealthReporter::new(),
        }
    }

    /// Adds a tonic-generated service, such as `InventoryServer::new(handler)`.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Returns the health reporter, for a service that wants to report NOT_SERVING on its own
    /// (for example while a dependency it cannot work without is down).
    pub fn health_reporter(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then reports NOT_SERVING, stops
    /// accepting connections and returns once the calls in flight have finished.
    ///
    /// Bind the listener first (tests bind `127.0.0.1:0`), so the address is known and
    /// connections are accepted before this future is polled.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), GrpcError>
    where
        F: Future<Output = ()>,
    {
        let address = listener.local_addr().map_err(GrpcError::Listener)?;
        let mut names = self.service_names;
        names.push(SERVER_HEALTH_NAME);
        set_status(&self.health, &names, ServingStatus::Serving).await;

        let health_service = tonic_health::pb::health_server::HealthServer::new(
            HealthService::from_health_reporter(self.health.clone()),
        );
        let mut routes = self.routes;
        routes.add_service(health_service);

        let reporter = self.health;
        let drain_names = names.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!(grpc.address = %address, "gRPC server draining in-flight calls");
            set_status(&reporter, &drain_names, ServingStatus::NotServing).await;
        };

        tracing::info!(grpc.address = %address, grpc.services = ?names, "gRPC server listening");
        Server::builder()
            .trace_fn(call_span)
            .add_routes(routes.routes())
            // TCP_NODELAY as tonic sets it on listeners it binds itself: without it, a
            // response of several segments waits for the client's delayed ACK (about 40 ms on
            // Linux).
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                signal,
            )
            .await
            .map_err(GrpcError::Serve)?;
        tracing::info!(grpc.address = %address, "gRPC server stopped");
        Ok(())
    }
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

async fn set_status(reporter: &HealthReporter, names: &[&str], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}

/// Creates the span of one call, named after the OpenTelemetry RPC conventions, and makes it a
/// child of the caller's span when the request carries a `traceparent`.
fn call_span(request: &Request<()>) -> tracing::Span {
    let path = request.uri().path();
    let (service, method) = split_path(path);
    let span = tracing::info_span!(
        "grpc.call",
        otel.name = path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
    );
    if let Err(error) = set_parent_from_headers(&span, request.headers()) {
        tracing::debug!(error = %error, rpc.service = service, "ignored the caller's trace context");
    }
    span
}

/// Splits `/package.Service/Method` into the service and method names.
fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn split_path_separates_service_and_method() {
        assert_eq!(
            split_path("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health", "Check")
        );
        assert_eq!(split_path("/odd"), ("/odd", ""));
    }
}
