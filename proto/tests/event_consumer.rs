//! Runs the example consumer's `decode` over one sample of every event type in the compiled
//! descriptors, so the example keeps decoding every subject as events are added.
//!
//! An event type is a message of `certitude.events.v1` whose leading comment names its
//! `Subject:`. Each sample sets every field to a value other than its default, encoded from the
//! descriptor alone, so a payload decoded as the wrong message would lose its values.

#[path = "../examples/event_consumer.rs"]
#[allow(dead_code)]
mod event_consumer;

use prost::Message;
use prost::encoding;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

use certitude_proto::events::v1::Envelope;
use event_consumer::{Event, decode};

/// Field number of `message_type` in `FileDescriptorProto`, as source-code-info paths use it.
const MESSAGE_TYPE_FIELD: i32 = 4;

fn descriptors() -> FileDescriptorSet {
    FileDescriptorSet::decode(certitude_proto::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes")
}

/// Returns every event message of `certitude.events.v1` with its file.
fn event_messages(set: &FileDescriptorSet) -> Vec<(&FileDescriptorProto, &DescriptorProto)> {
    let mut found = Vec::new();
    for file in &set.file {
        if file.package() != "certitude.events.v1" {
            continue;
        }
        for (index, message) in file.message_type.iter().enumerate() {
            let index = i32::try_from(index).expect("fewer than 2^31 messages");
            let is_event = file.source_code_info.as_ref().is_some_and(|info| {
                info.location.iter().any(|location| {
                    location.path == [MESSAGE_TYPE_FIELD, index]
                        && location
                            .leading_comments()
                            .trim_start()
                            .starts_with("Subject:")
                })
            });
            if is_event {
                found.push((file, message));
            }
        }
    }
    found
}

/// Finds a message of the set by its fully qualified name, such as `.google.protobuf.Timestamp`.
fn find_message<'a>(set: &'a FileDescriptorSet, full_name: &str) -> Option<&'a DescriptorProto> {
    set.file.iter().find_map(|file| {
        file.message_type
            .iter()
            .find(|message| format!(".{}.{}", file.package(), message.name()) == full_name)
    })
}

/// Sample text of a string field: its name, so the decoded message shows where it landed.
fn sample_text(field: &FieldDescriptorProto) -> String {
    format!("{}-sample", field.name())
}

/// Encodes a sample of `message` with every field set, nested messages included. A repeated
/// field gets one element, unpacked, which decoders accept for packed fields too.
fn encode_sample(set: &FileDescriptorSet, message: &DescriptorProto, buffer: &mut Vec<u8>) {
    for field in &message.field {
        let number = u32::try_from(field.number()).expect("field numbers are positive");
        match field.r#type() {
            Type::String => encoding::string::encode(number, &sample_text(field), buffer),
            Type::Bytes => {
                encoding::bytes::encode(number, &sample_text(field).into_bytes(), buffer)
            }
            Type::Bool => encoding::bool::encode(number, &true, buffer),
            Type::Uint32 | Type::Uint64 | Type::Int32 | Type::Int64 | Type::Enum => {
                encoding::uint64::encode(number, &1, buffer);
            }
            Type::Sint32 | Type::Sint64 => encoding::sint64::encode(number, &1, buffer),
            Type::Fixed32 | Type::Sfixed32 | Type::Float => {
                encoding::fixed32::encode(number, &1, buffer);
            }
            Type::Fixed64 | Type::Sfixed64 | Type::Double => {
                encoding::fixed64::encode(number, &1, buffer);
            }
            Type::Message => {
                let nested = find_message(set, field.type_name()).unwrap_or_else(|| {
                    panic!(
                        "message type {} is in the descriptor set",
                        field.type_name()
                    )
                });
                let mut nested_buffer = Vec::new();
                encode_sample(set, nested, &mut nested_buffer);
                encoding::encode_key(number, encoding::WireType::LengthDelimited, buffer);
                encoding::encode_varint(nested_buffer.len() as u64, buffer);
                buffer.extend_from_slice(&nested_buffer);
            }
            Type::Group => panic!("proto3 has no groups: {}", field.name()),
        }
    }
}

fn envelope(event_type: &str, payload: Vec<u8>) -> Vec<u8> {
    Envelope {
        event_id: "0193a3f0-0000-7000-8000-000000000001".to_owned(),
        event_type: event_type.to_owned(),
        producer: "sample".to_owned(),
        aggregate_type: "sample".to_owned(),
        aggregate_id: "0193a3f0-0000-7000-8000-000000000002".to_owned(),
        sequence: 3,
        schema_version: 1,
        payload,
        ..Envelope::default()
    }
    .encode_to_vec()
}

#[test]
fn example_decodes_every_event_type() {
    let set = descriptors();
    let messages = event_messages(&set);
    assert!(
        messages.len() >= 19,
        "found {} event messages; the Subject: comments were not read",
        messages.len()
    );
    for (file, message) in messages {
        let event_type = format!("{}.{}", file.package(), message.name());
        let mut payload = Vec::new();
        encode_sample(&set, message, &mut payload);

        let (decoded_envelope, event) = decode(&envelope(&event_type, payload))
            .unwrap_or_else(|error| panic!("{event_type} does not decode: {error}"));
        assert_eq!(decoded_envelope.event_type, event_type);
        assert_eq!(decoded_envelope.sequence, 3);
        let shown = format!("{event:?}");
        assert!(
            shown.starts_with(&format!("{}(", message.name())),
            "examples/event_consumer.rs decodes {event_type} as {shown}: add an Event variant \
             and a decode arm for it"
        );
        for field in &message.field {
            if field.r#type() == Type::String {
                assert!(
                    shown.contains(&sample_text(field)),
                    "{event_type}.{} did not survive decoding: {shown}",
                    field.name()
                );
            }
        }
    }
}

#[test]
fn example_keeps_unknown_event_types() {
    let body = envelope("certitude.events.v1.NotYetInvented", vec![0x0a, 0x01, b'x']);
    let (decoded_envelope, event) = decode(&body).expect("an unknown type still decodes");
    assert_eq!(event, Event::Unknown);
    assert_eq!(
        decoded_envelope.aggregate_id,
        "0193a3f0-0000-7000-8000-000000000002"
    );
}

#[test]
fn example_rejects_a_malformed_payload() {
    // Field 1 as a length-delimited value whose length runs past the end.
    let body = envelope("certitude.events.v1.OrderCreated", vec![0x0a, 0x05, b'x']);
    assert!(decode(&body).is_err());
}
