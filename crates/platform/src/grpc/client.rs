//! gRPC clients: a lazily connecting channel with a per-request deadline, and an interceptor
//! that passes the caller's trace context on in the request metadata.

use std::time::Duration;

use opentelemetry::propagation::Injector;
use tonic::Status;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::GrpcError;
use crate::telemetry::inject_current_context;

/// A channel whose requests carry the caller's trace context.
pub type TracedChannel = InterceptedService<Channel, TraceContextInterceptor>;

/// Signature of [`inject_trace_context`], the interceptor of [`TracedChannel`].
pub type TraceContextInterceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, Status>;

/// Creates a channel to `endpoint_url` (such as `http://inventory:50051`) that connects on
/// first use and reconnects after failures. Every request fails with `DEADLINE_EXCEEDED` once
/// `timeout` has passed, and so does a connection attempt.
///
/// Must be called inside a Tokio runtime. Fails only when the URL is invalid.
pub fn connect_lazy(endpoint_url: &str, timeout: Duration) -> Result<Channel, GrpcError> {
    let endpoint =
        Endpoint::from_shared(endpoint_url.to_owned()).map_err(|source| GrpcError::Endpoint {
            url: endpoint_url.to_owned(),
            source,
        })?;
    Ok(endpoint
        .timeout(timeout)
        .connect_timeout(timeout)
        .connect_lazy())
}

/// Wraps a channel so that every request carries the caller's trace context; pass the result
/// to a generated client's `new`.
pub fn traced(channel: Channel) -> TracedChannel {
    InterceptedService::new(channel, inject_trace_context)
}

/// Interceptor that writes the current span's `traceparent` (and `tracestate`) into the
/// request metadata. Use it with a generated client's `with_interceptor`. Always returns `Ok`.
pub fn inject_trace_context(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    inject_current_context(&mut MetadataInjector(request.metadata_mut()));
    Ok(request)
}

/// Writes trace context into gRPC metadata, skipping keys or values that metadata cannot hold.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = MetadataKey::from_bytes(key.as_bytes()) else {
            return;
        };
        let Ok(value) = MetadataValue::try_from(value.as_str()) else {
            return;
        };
        self.0.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_lazy_rejects_invalid_url() {
        let error = connect_lazy("not a url", Duration::from_secs(1)).unwrap_err();

        assert!(matches!(&error, GrpcError::Endpoint { url, .. } if url == "not a url"));
    }
}
