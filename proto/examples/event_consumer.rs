//! A consumer of Certitude's events as an outside team would write it, with only this crate and
//! async-nats: it creates (or reuses) its own durable pull consumer on the event stream, decodes
//! every event, prints it and acknowledges it.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p certitude-proto --example event_consumer
//! ```
//!
//! `CERTITUDE_EVENT_STREAM` (default `CERTS`) and `CERTITUDE_SUBJECT_PREFIX` (default `certs`)
//! name the stream and the subjects' first token, as the services' settings of the same names
//! do. `CONSUMER_NAME` (default `example-event-consumer`) is the durable consumer's name.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::AckPolicy, consumer::pull};
use certitude_proto::events::v1 as events;
use futures::StreamExt;
use prost::Message;

// BEGIN EXAMPLE: decode
/// One decoded event payload, by its envelope's `event_type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    CredentialAdded(events::CredentialAdded),
    CredentialUpdated(events::CredentialUpdated),
    CredentialRemoved(events::CredentialRemoved),
    CatalogSynced(events::CatalogSynced),
    OrderCreated(events::OrderCreated),
    OrderImported(events::OrderImported),
    OrderStatusChanged(events::OrderStatusChanged),
    OrderDeleted(events::OrderDeleted),
    CertificateIssued(events::CertificateIssued),
    CertificateRevoked(events::CertificateRevoked),
    CertificateAddedToInventory(events::CertificateAddedToInventory),
    CertificateRejected(events::CertificateRejected),
    CertificateRenewed(events::CertificateRenewed),
    CertificateReissued(events::CertificateReissued),
    CertificateDeploymentRequired(events::CertificateDeploymentRequired),
    RenewalPolicyChanged(events::RenewalPolicyChanged),
    RenewalSucceeded(events::RenewalSucceeded),
    RenewalFailed(events::RenewalFailed),
    CertificateExpiring(events::CertificateExpiring),
    /// An event type this consumer was built without, such as one added after it was
    /// written: keep the envelope, skip or store the payload, and acknowledge.
    Unknown,
}

/// Decodes a message body: the envelope, then its payload by `event_type`.
pub fn decode(body: &[u8]) -> Result<(events::Envelope, Event), prost::DecodeError> {
    let envelope = events::Envelope::decode(body)?;
    let payload = envelope.payload.as_slice();
    let event = match envelope.event_type.as_str() {
        "certitude.events.v1.CredentialAdded" => Event::CredentialAdded(Message::decode(payload)?),
        "certitude.events.v1.CredentialUpdated" => {
            Event::CredentialUpdated(Message::decode(payload)?)
        }
        "certitude.events.v1.CredentialRemoved" => {
            Event::CredentialRemoved(Message::decode(payload)?)
        }
        "certitude.events.v1.CatalogSynced" => Event::CatalogSynced(Message::decode(payload)?),
        "certitude.events.v1.OrderCreated" => Event::OrderCreated(Message::decode(payload)?),
        "certitude.events.v1.OrderImported" => Event::OrderImported(Message::decode(payload)?),
        "certitude.events.v1.OrderStatusChanged" => {
            Event::OrderStatusChanged(Message::decode(payload)?)
        }
        "certitude.events.v1.OrderDeleted" => Event::OrderDeleted(Message::decode(payload)?),
        "certitude.events.v1.CertificateIssued" => {
            Event::CertificateIssued(Message::decode(payload)?)
        }
        "certitude.events.v1.CertificateRevoked" => {
            Event::CertificateRevoked(Message::decode(payload)?)
        }
        "certitude.events.v1.CertificateAddedToInventory" => {
            Event::CertificateAddedToInventory(Message::decode(payload)?)
        }
        "certitude.events.v1.CertificateRejected" => {
            Event::CertificateRejected(Message::decode(payload)?)
        }
        "certitude.events.v1.CertificateRenewed" => {
            Event::CertificateRenewed(Message::decode(payload)?)
        }
        "certitude.events.v1.CertificateReissued" => {
            Event::CertificateReissued(Message::decode(payload)?)
        }
        "certitude.events.v1.CertificateDeploymentRequired" => {
            Event::CertificateDeploymentRequired(Message::decode(payload)?)
        }
        "certitude.events.v1.RenewalPolicyChanged" => {
            Event::RenewalPolicyChanged(Message::decode(payload)?)
        }
        "certitude.events.v1.RenewalSucceeded" => {
            Event::RenewalSucceeded(Message::decode(payload)?)
        }
        "certitude.events.v1.RenewalFailed" => Event::RenewalFailed(Message::decode(payload)?),
        "certitude.events.v1.CertificateExpiring" => {
            Event::CertificateExpiring(Message::decode(payload)?)
        }
        _ => Event::Unknown,
    };
    Ok((envelope, event))
}
// END EXAMPLE: decode

/// Decodes every event on the stream with a durable consumer of its own until interrupted.
#[tokio::main]
async fn main() -> Result<(), async_nats::Error> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let stream_name = std::env::var("CERTITUDE_EVENT_STREAM").unwrap_or_else(|_| "CERTS".into());
    let prefix = std::env::var("CERTITUDE_SUBJECT_PREFIX").unwrap_or_else(|_| "certs".into());
    let name = std::env::var("CONSUMER_NAME").unwrap_or_else(|_| "example-event-consumer".into());

    // BEGIN EXAMPLE: consume
    let client = async_nats::connect(&url).await?;
    let jetstream = jetstream::new(client);
    let stream = jetstream.get_stream(&stream_name).await?;
    // A durable consumer keeps its position on the server across restarts. One filter
    // subject per consumer works on every NATS 2.9+ server; `v1.>` takes every v1 event.
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: format!("{prefix}.v1.>"),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: 10,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        match decode(&message.payload) {
            Ok((envelope, event)) => {
                // Do your work here and commit it with envelope.event_id as the key that
                // makes a redelivery a no-op; order one aggregate's events by sequence.
                println!(
                    "{} {} {}#{}: {event:?}",
                    message.subject, envelope.event_id, envelope.aggregate_id, envelope.sequence
                );
                message.ack().await?;
            }
            Err(error) => {
                // A body that does not decode will not decode on redelivery either.
                eprintln!("undecodable message on {}: {error}", message.subject);
                message.ack_with(AckKind::Term).await?;
            }
        }
    }
    // END EXAMPLE: consume
    Ok(())
}
