//! Events on NATS JetStream: stream settings, subjects, event types and the envelope.
//!
//! Every event travels as an encoded [`Envelope`] on the subject
//! `<prefix>.v<schema version>.<aggregate>.<event>`, for example `certs.v1.order.created`, in
//! one stream (`CERTS` by default) that captures `<prefix>.>`. Messages a consumer cannot
//! process go to a separate dead-letter stream whose subjects (`<dead letter prefix>.>`) do not
//! overlap the main stream's. Stream names and prefixes are settings, so parallel tests and
//! deployments each use their own.
//!
//! Only features of NATS 2.9 are used: one filter subject per consumer, no stream metadata.

mod catalog;
mod envelope;
mod error_text;
mod streams;

pub use catalog::{Event, EventType};
pub use envelope::{
    CONTENT_TYPE, EnvelopeError, HEADER_CONTENT_TYPE, HEADER_TRACEPARENT, decode_envelope,
    decode_payload, encode_envelope, timestamp,
};
pub use streams::{EventsSettings, StreamError, ensure_streams};

pub(crate) use error_text::error_text;

/// The envelope every event is wrapped in.
pub use certitude_proto::events::v1::Envelope;
