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

/// Maximum length of a status message a service sends, in bytes. A message may echo the caller's
/// input, and one over the receiver's HTTP/2 header list limit (16 KiB by default in hyper,
/// which tonic uses) reaches the caller as a transport error instead of the status.
pub const MAX_STATUS_MESSAGE_BYTES: usize = 2048;

/// Returns `status` with its message shortened to about [`MAX_STATUS_MESSAGE_BYTES`]: the middle
/// is left out at character boundaries, so that the field name at the start and the reason at
/// the end both remain. Shorter messages are kept whole.
pub fn shortened(status: tonic::Status) -> tonic::Status {
    let message = status.message();
    if message.len() <= MAX_STATUS_MESSAGE_BYTES {
        return status;
    }
    let half = MAX_STATUS_MESSAGE_BYTES / 2;
    let mut head_end = half;
    while !message.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = message.len() - half;
    while !message.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    tonic::Status::new(
        status.code(),
        format!(
            "{}…({} bytes left out)…{}",
            &message[..head_end],
            tail_start - head_end,
            &message[tail_start..]
        ),
    )
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn long_message_keeps_field_and_reason() {
        let long = format!(
            "product: {:?} is not a product code; use one such as STANDARD_SSL",
            "é".repeat(5_000)
        );
        let status = shortened(tonic::Status::invalid_argument(long.clone()));
        let message = status.message();

        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(message.starts_with("product: \"éé"), "{message:.40}");
        assert!(
            message.ends_with("is not a product code; use one such as STANDARD_SSL"),
            "{message}"
        );
        assert!(message.contains(" bytes left out)…"), "{message}");
        assert!(
            message.len() < MAX_STATUS_MESSAGE_BYTES + 40,
            "{}",
            message.len()
        );
    }

    #[test]
    fn short_message_is_kept() {
        let status = shortened(tonic::Status::not_found("order 7 not found"));
        assert_eq!(status.message(), "order 7 not found");
    }
}
