//! Moving a message that cannot be processed to the dead-letter stream.
//!
//! A dead letter is the original message body, published on
//! `<dead letter prefix>.<durable name>.<original subject>` with the original headers (except
//! JetStream's own `Nats-*` headers) and headers that name its origin and the failure.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};

use super::ConsumerSettings;

/// Why a message went to the dead-letter stream: `handler_failed` or `undecodable`.
pub const HEADER_REASON: &str = "Certitude-Dead-Letter-Reason";
/// Subject the original message was published on.
pub const HEADER_ORIGINAL_SUBJECT: &str = "Certitude-Original-Subject";
/// Stream the original message is stored in.
pub const HEADER_ORIGINAL_STREAM: &str = "Certitude-Original-Stream";
/// Sequence of the original message in its stream.
pub const HEADER_ORIGINAL_SEQUENCE: &str = "Certitude-Original-Sequence";
/// Durable consumer that gave up on the message.
pub const HEADER_CONSUMER: &str = "Certitude-Consumer";
/// Deliveries of the message to that consumer, the last one included.
pub const HEADER_DELIVERY_COUNT: &str = "Certitude-Delivery-Count";
/// Text of the last error, with its causes, on one line.
pub const HEADER_ERROR: &str = "Certitude-Error";

/// Maximum length of the error text in [`HEADER_ERROR`], in bytes.
pub(crate) const MAX_ERROR_TEXT: usize = 2_048;

/// Reason a message goes to the dead-letter stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The handler failed on the last allowed delivery.
    HandlerFailed,
    /// The body is not an envelope with a valid event id, so retrying cannot help.
    Undecodable,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::HandlerFailed => "handler_failed",
            Self::Undecodable => "undecodable",
        }
    }
}

/// Origin of a failed message: its subject, stream position and delivery count.
pub(crate) struct Origin<'a> {
    pub subject: &'a str,
    pub stream: &'a str,
    pub stream_sequence: u64,
    pub delivered: u64,
}

/// Publishes the message to the dead-letter stream and waits for JetStream's acknowledgement.
pub(crate) async fn publish(
    jetstream: &jetstream::Context,
    settings: &ConsumerSettings,
    message: &jetstream::Message,
    origin: &Origin<'_>,
    reason: Reason,
    error_text: &str,
) -> Result<(), jetstream::context::PublishError> {
    let subject = format!(
        "{}.{}.{}",
        settings.dead_letter_prefix, settings.durable_name, origin.subject
    );
    // One dead letter per consumer and original message, even if publishing is retried.
    let dead_letter_id = format!(
        "{}:{}:{}",
        settings.durable_name, origin.stream, origin.stream_sequence
    );
    let publish = PublishMessage::build()
        .payload(message.payload.clone())
        .headers(headers(
            message.headers.as_ref(),
            settings,
            origin,
            reason,
            error_text,
        ))
        .message_id(dead_letter_id)
        .expected_stream(&settings.dead_letter_stream);

    let ack = jetstream.send_publish(subject, publish).await?;
    ack.await?;
    crate::telemetry::metrics::record_dead_letter(&settings.durable_name, reason.as_str());
    Ok(())
}

fn headers(
    original: Option<&HeaderMap>,
    settings: &ConsumerSettings,
    origin: &Origin<'_>,
    reason: Reason,
    error_text: &str,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in original.into_iter().flat_map(HeaderMap::iter) {
        if AsRef::<str>::as_ref(name).starts_with("Nats-") {
            continue;
        }
        for value in values {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(HEADER_REASON, reason.as_str());
    headers.insert(HEADER_ORIGINAL_SUBJECT, origin.subject);
    headers.insert(HEADER_ORIGINAL_STREAM, origin.stream);
    headers.insert(HEADER_ORIGINAL_SEQUENCE, origin.stream_sequence.to_string());
    headers.insert(HEADER_CONSUMER, settings.durable_name.as_str());
    headers.insert(HEADER_DELIVERY_COUNT, origin.delivered.to_string());
    headers.insert(HEADER_ERROR, error_text);
    headers
}

/// Returns the delay before the next attempt after `delivered` deliveries: the `delivered`-th
/// entry of `backoff`, the last entry once past its end, or no delay when it is empty.
pub(crate) fn retry_delay(backoff: &[Duration], delivered: u64) -> Duration {
    let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(usize::MAX);
    backoff
        .get(index)
        .or(backoff.last())
        .copied()
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_follows_backoff_then_repeats_last() {
        let backoff = [Duration::from_secs(1), Duration::from_secs(5)];

        assert_eq!(retry_delay(&backoff, 1), Duration::from_secs(1));
        assert_eq!(retry_delay(&backoff, 2), Duration::from_secs(5));
        assert_eq!(retry_delay(&backoff, 7), Duration::from_secs(5));
    }

    #[test]
    fn retry_delay_without_backoff_is_zero() {
        assert_eq!(retry_delay(&[], 3), Duration::ZERO);
    }
}
