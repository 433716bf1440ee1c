//! Keeps the field tables of docs/events.md equal to the event messages in proto/.
//!
//! The tables are rendered from the compiled descriptors, comments included. When an event
//! changes, run `UPDATE_EVENTS_DOC=1 cargo test -p certitude-proto --test events_doc` to rewrite
//! the generated block, then review the diff.

use std::path::PathBuf;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

const BEGIN: &str = "<!-- BEGIN GENERATED: event fields -->";
const END: &str = "<!-- END GENERATED: event fields -->";

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

#[test]
fn events_doc_matches_event_messages() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
    let doc = std::fs::read_to_string(&path).expect("docs/events.md exists");
    let start = doc
        .find(BEGIN)
        .expect("docs/events.md has the generated block's start marker");
    let end = doc
        .find(END)
        .expect("docs/events.md has the generated block's end marker")
        + END.len();
    let rendered = render();

    if std::env::var_os("UPDATE_EVENTS_DOC").is_some() {
        let updated = format!("{}{rendered}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).expect("docs/events.md is writable");
        return;
    }
    assert!(
        doc[start..end] == rendered,
        "docs/events.md is out of date with proto/certitude/events/v1: run \
         UPDATE_EVENTS_DOC=1 cargo test -p certitude-proto --test events_doc"
    );
}
