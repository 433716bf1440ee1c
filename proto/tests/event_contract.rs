//! Keeps the event contract backward compatible with proto/events.snapshot.json, the committed
//! descriptors of every message and enum under `certitude.events.*`.
//!
//! Adding a message, an enum, a field or an enum value passes. Removing or renumbering a field
//! fails, and so do renaming it, changing its type or label, and removing a message, an enum or
//! an enum value. Such a change belongs in a new package (`certitude.events.v2`, and thus new
//! `v2` subjects) next to the unchanged `v1`. After an accepted change, run
//! `UPDATE_EVENT_SNAPSHOT=1 cargo test -p certitude-proto --test event_contract` to rewrite the
//! snapshot, then review and commit its diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};
use serde_json::{Value, json};

/// Package prefix of every event contract, whatever its version.
const EVENTS_PACKAGE: &str = "certitude.events.";

/// One field as the snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    number: i32,
    /// Protobuf type, such as `TYPE_STRING`; messages and enums also carry `type_name`.
    kind: String,
    /// Fully qualified name of a message or enum type, such as `.google.protobuf.Timestamp`.
    type_name: String,
    /// `LABEL_OPTIONAL` or `LABEL_REPEATED` (proto3 has no required fields).
    label: String,
}

/// Every message (with its fields) and enum (with its values) of the event packages, by fully
/// qualified name.
#[derive(Debug, Default)]
struct Contract {
    messages: BTreeMap<String, Vec<Field>>,
    enums: BTreeMap<String, BTreeMap<String, i32>>,
}

impl Contract {
    /// Reads the contract from the descriptor set compiled into the crate.
    fn compiled() -> Self {
        let descriptors = FileDescriptorSet::decode(certitude_proto::FILE_DESCRIPTOR_SET)
            .expect("the embedded descriptor set decodes");
        let mut contract = Self::default();
        for file in &descriptors.file {
            if !file.package().starts_with(EVENTS_PACKAGE) {
                continue;
            }
            let scope = format!(".{}", file.package());
            for message in &file.message_type {
                contract.add_message(&scope, message);
            }
            for enumeration in &file.enum_type {
                contract.add_enum(&scope, enumeration);
            }
        }
        contract
    }

    fn add_message(&mut self, scope: &str, message: &DescriptorProto) {
        let full_name = format!("{scope}.{}", message.name());
        let fields = message
            .field
            .iter()
            .map(|field| Field {
                name: field.name().to_owned(),
                number: field.number(),
                kind: field.r#type().as_str_name().to_owned(),
                type_name: field.type_name().to_owned(),
                label: field.label().as_str_name().to_owned(),
            })
            .collect();
        for nested in &message.nested_type {
            self.add_message(&full_name, nested);
        }
        for enumeration in &message.enum_type {
            self.add_enum(&full_name, enumeration);
        }
        self.messages.insert(full_name, fields);
    }

    fn add_enum(&mut self, scope: &str, enumeration: &EnumDescriptorProto) {
        let values = enumeration
            .value
            .iter()
            .map(|value| (value.name().to_owned(), value.number()))
            .collect();
        self.enums
            .insert(format!("{scope}.{}", enumeration.name()), values);
    }

    fn to_json(&self) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|(name, fields)| {
                let fields: Vec<Value> = fields
                    .iter()
                    .map(|field| {
                        json!({
                            "number": field.number,
                            "name": field.name,
                            "type": field.kind,
                            "type_name": field.type_name,
                            "label": field.label,
                        })
                    })
                    .collect();
                json!({ "name": name, "fields": fields })
            })
            .collect();
        let enums: Vec<Value> = self
            .enums
            .iter()
            .map(|(name, values)| {
                let values: Vec<Value> = values
                    .iter()
                    .map(|(value, number)| json!({ "name": value, "number": number }))
                    .collect();
                json!({ "name": name, "values": values })
            })
            .collect();
        json!({ "messages": messages, "enums": enums })
    }

    fn from_json(snapshot: &Value) -> Self {
        let mut contract = Self::default();
        for message in array(snapshot, "messages") {
            let fields = array(message, "fields")
                .iter()
                .map(|field| Field {
                    name: text(field, "name"),
                    number: number(field, "number"),
                    kind: text(field, "type"),
                    type_name: text(field, "type_name"),
                    label: text(field, "label"),
                })
                .collect();
            contract.messages.insert(text(message, "name"), fields);
        }
        for enumeration in array(snapshot, "enums") {
            let values = array(enumeration, "values")
                .iter()
                .map(|value| (text(value, "name"), number(value, "number")))
                .collect();
            contract.enums.insert(text(enumeration, "name"), values);
        }
        contract
    }
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("the snapshot's {key:?} is missing or not an array"))
}

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("the snapshot's {key:?} is missing or not a string: {value}"))
        .to_owned()
}

fn number(value: &Value, key: &str) -> i32 {
    value[key]
        .as_i64()
        .and_then(|number| i32::try_from(number).ok())
        .unwrap_or_else(|| panic!("the snapshot's {key:?} is missing or not an i32: {value}"))
}

/// Lists every change from `old` to `new` that breaks a consumer built against `old`.
fn breaking_changes(old: &Contract, new: &Contract) -> Vec<String> {
    let mut changes = Vec::new();
    for (message, old_fields) in &old.messages {
        let Some(new_fields) = new.messages.get(message) else {
            changes.push(format!("message {message} was removed"));
            continue;
        };
        for old_field in old_fields {
            match new_fields
                .iter()
                .find(|field| field.number == old_field.number)
            {
                None => {
                    let renumbered = new_fields
                        .iter()
                        .find(|field| field.name == old_field.name)
                        .map(|field| format!(" (now number {})", field.number));
                    changes.push(format!(
                        "{message}: field {} = {} was removed{}",
                        old_field.name,
                        old_field.number,
                        renumbered.unwrap_or_default()
                    ));
                }
                Some(new_field) if new_field != old_field => changes.push(format!(
                    "{message}: field number {} changed from {old_field:?} to {new_field:?}",
                    old_field.number
                )),
                Some(_) => {}
            }
        }
    }
    for (enumeration, old_values) in &old.enums {
        let Some(new_values) = new.enums.get(enumeration) else {
            changes.push(format!("enum {enumeration} was removed"));
            continue;
        };
        for (name, number) in old_values {
            if new_values.get(name) != Some(number) {
                changes.push(format!(
                    "{enumeration}: value {name} = {number} was removed or renumbered"
                ));
            }
        }
    }
    changes
}

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events.snapshot.json")
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value serializes");
    text.push('\n');
    text
}

#[test]
fn event_contract_is_backward_compatible() {
    let compiled = Contract::compiled();
    let path = snapshot_path();
    if std::env::var_os("UPDATE_EVENT_SNAPSHOT").is_some() {
        std::fs::write(&path, pretty(&compiled.to_json())).expect("the snapshot is writable");
        return;
    }
    let snapshot_text = std::fs::read_to_string(&path).expect("proto/events.snapshot.json exists");
    let snapshot: Value =
        serde_json::from_str(&snapshot_text).expect("proto/events.snapshot.json is valid JSON");
    let committed = Contract::from_json(&snapshot);

    let changes = breaking_changes(&committed, &compiled);
    assert!(
        changes.is_empty(),
        "backward-incompatible changes to the event contract:\n  {}\nKeep v1 as it is and add \
         the new shape under certitude.events.v2 (new v2 subjects); refresh the snapshot with \
         UPDATE_EVENT_SNAPSHOT=1 cargo test -p certitude-proto --test event_contract only for \
         a compatible change",
        changes.join("\n  ")
    );
}

#[test]
fn snapshot_format_round_trips() {
    let compiled = Contract::compiled();
    let read_back = Contract::from_json(&compiled.to_json());
    assert_eq!(read_back.messages, compiled.messages);
    assert_eq!(read_back.enums, compiled.enums);
    assert!(
        compiled
            .messages
            .contains_key(".certitude.events.v1.Envelope"),
        "the compiled contract has the envelope"
    );
}

/// Builds a contract of one message `Sample` with the given fields, for the rule tests below.
fn sample(fields: &[(&str, i32, &str)]) -> Contract {
    let fields = fields
        .iter()
        .map(|(name, number, kind)| Field {
            name: (*name).to_owned(),
            number: *number,
            kind: (*kind).to_owned(),
            type_name: String::new(),
            label: "LABEL_OPTIONAL".to_owned(),
        })
        .collect();
    Contract {
        messages: BTreeMap::from([(".certitude.events.v1.Sample".to_owned(), fields)]),
        enums: BTreeMap::new(),
    }
}

#[test]
fn added_field_and_message_are_compatible() {
    let old = sample(&[("id", 1, "TYPE_STRING")]);
    let mut new = sample(&[("id", 1, "TYPE_STRING"), ("note", 2, "TYPE_STRING")]);
    new.messages
        .insert(".certitude.events.v1.Other".to_owned(), Vec::new());
    assert_eq!(breaking_changes(&old, &new), Vec::<String>::new());
}

#[test]
fn removed_field_is_breaking() {
    let old = sample(&[("id", 1, "TYPE_STRING"), ("note", 2, "TYPE_STRING")]);
    let new = sample(&[("id", 1, "TYPE_STRING")]);
    assert_eq!(breaking_changes(&old, &new).len(), 1);
}

#[test]
fn renumbered_field_is_breaking() {
    let old = sample(&[("id", 1, "TYPE_STRING")]);
    let new = sample(&[("id", 2, "TYPE_STRING")]);
    let changes = breaking_changes(&old, &new);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].contains("now number 2"), "{changes:?}");
}

#[test]
fn changed_field_type_is_breaking() {
    let old = sample(&[("count", 1, "TYPE_UINT32")]);
    let new = sample(&[("count", 1, "TYPE_STRING")]);
    assert_eq!(breaking_changes(&old, &new).len(), 1);
}

#[test]
fn removed_message_is_breaking() {
    let old = sample(&[("id", 1, "TYPE_STRING")]);
    let new = Contract::default();
    assert_eq!(
        breaking_changes(&old, &new),
        vec!["message .certitude.events.v1.Sample was removed".to_owned()]
    );
}

#[test]
fn new_v2_package_leaves_v1_compatible() {
    let old = sample(&[("id", 1, "TYPE_STRING")]);
    let mut new = sample(&[("id", 1, "TYPE_STRING")]);
    let v2_fields = vec![Field {
        name: "id".to_owned(),
        number: 1,
        kind: "TYPE_BYTES".to_owned(),
        type_name: String::new(),
        label: "LABEL_OPTIONAL".to_owned(),
    }];
    new.messages
        .insert(".certitude.events.v2.Sample".to_owned(), v2_fields);
    assert_eq!(breaking_changes(&old, &new), Vec::<String>::new());
}

#[test]
fn removed_enum_value_is_breaking() {
    let mut old = Contract::default();
    old.enums.insert(
        ".certitude.events.v1.Kind".to_owned(),
        BTreeMap::from([("KIND_UNSPECIFIED".to_owned(), 0), ("KIND_A".to_owned(), 1)]),
    );
    let mut new = Contract::default();
    new.enums.insert(
        ".certitude.events.v1.Kind".to_owned(),
        BTreeMap::from([("KIND_UNSPECIFIED".to_owned(), 0)]),
    );
    assert_eq!(breaking_changes(&old, &new).len(), 1);
}
