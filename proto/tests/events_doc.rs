//! Keeps docs/events.md equal to the event messages in proto/ and to the example consumer.
//!
//! The field tables are rendered from the compiled descriptors, comments included, and the
//! async-nats snippet is copied from proto/examples/event_consumer.rs. When an event or the
//! example changes, run `UPDATE_EVENTS_DOC=1 cargo test -p certitude-proto --test events_doc`
//! to rewrite both generated blocks, then review the diff. The table of events is written by
//! hand; a test checks that it lists every event with the subject and producer of its message.

use std::path::PathBuf;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

const BEGIN: &str = "<!-- BEGIN GENERATED: event fields -->";
const END: &str = "<!-- END GENERATED: event fields -->";
const EXAMPLE_BEGIN: &str = "<!-- BEGIN EXAMPLE: consume -->";
const EXAMPLE_END: &str = "<!-- END EXAMPLE: consume -->";

/// Field number of `message_type` in `FileDescriptorProto`, and of `field` in
/// `DescriptorProto`, as source-code-info paths use them.
const MESSAGE_TYPE_FIELD: i32 = 4;
const FIELD_FIELD: i32 = 2;

fn comment(file: &FileDescriptorProto, path: &[i32]) -> String {
    let Some(info) = &file.source_code_info else {
        return String::new();
    };
    info.location
        .iter()
        .find(|location| location.path == path)
        .and_then(|location| location.leading_comments.clone())
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn type_name(field: &FieldDescriptorProto) -> String {
    let base = match field.r#type() {
        Type::Message | Type::Enum => field
            .type_name()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned(),
        other => other
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_ascii_lowercase(),
    };
    if field.label() == Label::Repeated {
        format!("repeated {base}")
    } else {
        base
    }
}

fn render_message(file: &FileDescriptorProto, index: usize, message: &DescriptorProto) -> String {
    let index = i32::try_from(index).expect("fewer than 2^31 messages");
    let mut out = format!("### {}\n\n", message.name());
    let description = comment(file, &[MESSAGE_TYPE_FIELD, index]);
    if !description.is_empty() {
        out.push_str(&description);
        out.push_str("\n\n");
    }
    out.push_str("| Field | Number | Type | Meaning |\n|---|---|---|---|\n");
    for (field_index, field) in message.field.iter().enumerate() {
        let field_index = i32::try_from(field_index).expect("fewer than 2^31 fields");
        let meaning = comment(file, &[MESSAGE_TYPE_FIELD, index, FIELD_FIELD, field_index]);
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            field.name(),
            field.number(),
            type_name(field),
            meaning.replace('|', "\\|")
        ));
    }
    out.push('\n');
    out
}

fn render() -> String {
    let descriptors = FileDescriptorSet::decode(certitude_proto::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes");
    let mut files: Vec<&FileDescriptorProto> = descriptors
        .file
        .iter()
        .filter(|file| file.name().starts_with("certitude/events/v1/"))
        .filter(|file| file.name().ends_with("_events.proto"))
        .collect();
    files.sort_by_key(|file| file.name().to_owned());
    let mut out = format!("{BEGIN}\n\n");
    for file in files {
        for (index, message) in file.message_type.iter().enumerate() {
            out.push_str(&render_message(file, index, message));
        }
    }
    out.push_str(END);
    out
}

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md")
}

/// Returns the byte range of the block from `begin` to the end of `end` in `doc`.
fn block_range(doc: &str, begin: &str, end: &str) -> std::ops::Range<usize> {
    let start = doc
        .find(begin)
        .unwrap_or_else(|| panic!("docs/events.md has the marker {begin}"));
    let stop = doc
        .find(end)
        .unwrap_or_else(|| panic!("docs/events.md has the marker {end}"))
        + end.len();
    start..stop
}

/// Checks that `rendered` is the block between `begin` and `end`, or writes it there when
/// `UPDATE_EVENTS_DOC` is set.
fn check_block(begin: &str, end: &str, rendered: &str) {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).expect("docs/events.md exists");
    let range = block_range(&doc, begin, end);

    if std::env::var_os("UPDATE_EVENTS_DOC").is_some() {
        let updated = format!("{}{rendered}{}", &doc[..range.start], &doc[range.end..]);
        std::fs::write(&path, updated).expect("docs/events.md is writable");
        return;
    }
    assert!(
        doc[range] == *rendered,
        "docs/events.md is out of date with proto/: run \
         UPDATE_EVENTS_DOC=1 cargo test -p certitude-proto --test events_doc"
    );
}

#[test]
fn events_doc_matches_event_messages() {
    check_block(BEGIN, END, &render());
}

/// Renders the async-nats snippet: the lines between `// BEGIN EXAMPLE: consume` and
/// `// END EXAMPLE: consume` of the example, unindented, in a Rust code block.
fn render_example() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/event_consumer.rs");
    let source = std::fs::read_to_string(path).expect("examples/event_consumer.rs exists");
    let lines: Vec<&str> = source
        .lines()
        .skip_while(|line| line.trim() != "// BEGIN EXAMPLE: consume")
        .skip(1)
        .take_while(|line| line.trim() != "// END EXAMPLE: consume")
        .collect();
    assert!(!lines.is_empty(), "the example marks its consume block");
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = format!("{EXAMPLE_BEGIN}\n```rust\n");
    for line in lines {
        out.push_str(line.get(indent..).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("```\n");
    out.push_str(EXAMPLE_END);
    out
}

#[test]
fn events_doc_shows_the_example_consumer() {
    check_block(EXAMPLE_BEGIN, EXAMPLE_END, &render_example());
}

/// Returns the subject and producer that a message's leading comment names in its first
/// sentences, `Subject: <subject>. Producer: <service>.`, or `None` for a message that is not
/// an event.
fn subject_and_producer(description: &str) -> Option<(String, String)> {
    let rest = description.strip_prefix("Subject: ")?;
    let (subject, rest) = rest.split_once(". Producer: ")?;
    let (producer, _) = rest.split_once('.')?;
    Some((subject.to_owned(), producer.to_owned()))
}

#[test]
fn events_table_lists_every_event() {
    let doc = std::fs::read_to_string(doc_path()).expect("docs/events.md exists");
    let descriptors = FileDescriptorSet::decode(certitude_proto::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes");
    let mut events = 0;
    for file in descriptors
        .file
        .iter()
        .filter(|file| file.package().starts_with("certitude.events."))
    {
        for (index, message) in file.message_type.iter().enumerate() {
            let index = i32::try_from(index).expect("fewer than 2^31 messages");
            let description = comment(file, &[MESSAGE_TYPE_FIELD, index]);
            let Some((subject, producer)) = subject_and_producer(&description) else {
                continue;
            };
            events += 1;
            let row = format!("| `{subject}` | `{}` | {producer} |", message.name());
            assert!(
                doc.contains(&row),
                "the Events table of docs/events.md lacks the row starting {row}"
            );
        }
    }
    assert!(
        events >= 19,
        "found {events} events with a Subject: comment"
    );
}
