//! Encoding and decoding of the event envelope and its payload, and the NATS headers that go
//! with it.

use certitude_proto::events::v1::Envelope;
use prost::Message;
use time::OffsetDateTime;

use super::Event;

/// Header with the W3C trace context of the transaction that produced the event.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// Header naming the body's media type.
pub const HEADER_CONTENT_TYPE: &str = "Content-Type";

/// Media type of a message body: an encoded `certitude.events.v1.Envelope`.
pub const CONTENT_TYPE: &str = "application/protobuf; proto=certitude.events.v1.Envelope";

/// A message body or payload that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The bytes are not an encoded envelope.
    #[error("message body is not an encoded certitude.events.v1.Envelope")]
    Envelope {
        #[source]
        source: prost::DecodeError,
    },

    /// The envelope carries another event type than the one requested.
    #[error("envelope carries {actual}, expected {expected}")]
    WrongType {
        expected: &'static str,
        actual: String,
    },

    /// The payload does not decode as the message its event type names.
    #[error("payload does not decode as {event_type}")]
    Payload {
        event_type: &'static str,
        #[source]
        source: prost::DecodeError,
    },
}

/// Encodes an envelope as a NATS message body.
pub fn encode_envelope(envelope: &Envelope) -> Vec<u8> {
    envelope.encode_to_vec()
}

/// Decodes a NATS message body into an envelope.
pub fn decode_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    Envelope::decode(body).map_err(|source| EnvelopeError::Envelope { source })
}

/// Decodes the envelope's payload as `M`, after checking that the envelope's `event_type` is
/// `M`'s.
pub fn decode_payload<M: Event>(envelope: &Envelope) -> Result<M, EnvelopeError> {
    let expected = M::TYPE.full_name;
    if envelope.event_type != expected {
        return Err(EnvelopeError::WrongType {
            expected,
            actual: envelope.event_type.clone(),
        });
    }
    M::decode(envelope.payload.as_slice()).map_err(|source| EnvelopeError::Payload {
        event_type: expected,
        source,
    })
}

/// Converts an instant to a protobuf timestamp.
pub fn timestamp(instant: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.unix_timestamp(),
        // Always below 10^9, so it fits in an i32.
        nanos: i32::try_from(instant.nanosecond()).unwrap_or(i32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use certitude_proto::events::v1::{OrderCreated, OrderImported};
    use time::macros::datetime;

    use super::*;

    fn order_created_envelope() -> Envelope {
        let payload = OrderCreated {
            order_id: "order-1".to_owned(),
            tracking_id: 42,
            ..OrderCreated::default()
        };
        Envelope {
            event_id: "0190b6a4-0000-7000-8000-000000000001".to_owned(),
            event_type: OrderCreated::TYPE.full_name.to_owned(),
            occurred_at: Some(timestamp(datetime!(2028-02-29 12:00:00.5 UTC))),
            producer: "order-manager".to_owned(),
            aggregate_type: "order".to_owned(),
            aggregate_id: "order-1".to_owned(),
            sequence: 3,
            schema_version: 1,
            payload: payload.encode_to_vec(),
        }
    }

    #[test]
    fn envelope_round_trips() {
        let envelope = order_created_envelope();

        let decoded = decode_envelope(&encode_envelope(&envelope)).expect("decodes");

        assert_eq!(decoded, envelope);
    }

    #[test]
    fn payload_decodes_as_its_event_type() {
        let payload: OrderCreated = decode_payload(&order_created_envelope()).expect("decodes");

        assert_eq!(payload.tracking_id, 42);
    }

    #[test]
    fn payload_of_another_type_is_rejected() {
        let error =
            decode_payload::<OrderImported>(&order_created_envelope()).expect_err("type differs");

        assert!(
            matches!(error, EnvelopeError::WrongType { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn garbage_body_is_not_an_envelope() {
        let error = decode_envelope(&[0xff, 0xff, 0xff]).expect_err("not protobuf");

        assert!(matches!(error, EnvelopeError::Envelope { .. }));
    }

    #[test]
    fn timestamp_keeps_nanoseconds() {
        let converted = timestamp(datetime!(2028-02-29 12:00:00.000000123 UTC));

        assert_eq!(converted.nanos, 123);
    }
}
