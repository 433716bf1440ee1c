//! gRPC plumbing shared by the services: the server bootstrap ([`GrpcServer`]) with the health
//! service, per-call spans and graceful shutdown, and client channels that carry deadlines and
//! the trace context.

mod client;
mod server;

pub use client::{
    TraceContextInterceptor, TracedChannel, connect_lazy, inject_trace_context, traced,
};
pub use server::GrpcServer;

/// Errors of the gRPC layer.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The listener's address could not be read.
    #[error("failed to read the gRPC listener's address")]
    Listener(#[source] std::io::Error),
    /// The server failed while serving.
    #[error("gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
    /// A client endpoint URL is invalid.
    #[error("invalid gRPC endpoint URL {url:?}: expected a URL such as http://inventory:50051")]
    Endpoint {
        /// The rejected URL.
        url: String,
        /// tonic's error.
        #[source]
        source: tonic::transport::Error,
    },
}
