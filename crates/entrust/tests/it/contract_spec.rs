//! The ECS API 2.1.0 Swagger definition as strict JSON schemas, with the live API's known
//! departures applied by name.
//!
//! Swagger 2.0 schemas are JSON Schema draft 4 with `$ref: '#/definitions/X'`. To make the
//! check strict, every `allOf` is merged into one object schema and every object schema gets
//! `additionalProperties: false`: a field the definition does not name fails validation,
//! unless a [`Departure`] allows it.

use std::collections::BTreeSet;

use anyhow::{Context, anyhow};
use serde_json::{Map, Value, json};

/// A known difference between the 2.1.0 definition and the live API as its production clients
/// (Entrust's own among them) show it. Each is allowed explicitly by the test that meets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Departure {
    /// Domains carry their status as `verificationStatus` (all Entrust-written clients read
    /// that key), where the definition names it `status`.
    DomainVerificationStatusKey,
    /// `GET /inventories` wraps its list as `inventories` (production clients read that key),
    /// where the definition's schema and example use `inventory`.
    InventoriesWrapper,
    /// Revocations accept only `unspecified` and `keyCompromise`, where the 2.1.0 enum lists
    /// `keyCompromise`, `affiliationChanged`, `superseded` and `cessationOfOperation`.
    CrlReasonUnspecified,
    /// `GET /certificates/thumbprints/{thumbprint}` exists (newer than 2.1.0) and returns a
    /// `CertificateEx`. Certificates the account has on record by thumbprint only (tracking
    /// id 0) have status `UNKNOWN`, which the 2.1.0 enum lacks, in that lookup and in lists.
    ThumbprintLookup,
    /// An `UNLIMITED` inventory item omits its counts, `usedCount` included, although the
    /// definition requires `usedCount`. No client shows this on the live API: it is inferred
    /// from `consumptionType` appearing only for `UNLIMITED` items, and the simulator follows
    /// that inference.
    UnlimitedInventoryWithoutCounts,
}

/// The definition with departures applied, ready to build validators.
pub struct Spec {
    paths: Value,
    definitions: Map<String, Value>,
}

fn spec_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/entrust-ecs-api-2.1.0.yaml")
}

/// Returns the definition name of a `#/definitions/X` reference.
fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix("#/definitions/"))
}

impl Spec {
    /// Loads the copied definition and applies `departures`.
    pub fn load(departures: &[Departure]) -> anyhow::Result<Spec> {
        let path = spec_path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let document: Value = serde_norway::from_str(&text)
            .with_context(|| format!("{} is not valid YAML", path.display()))?;
        let mut paths = document
            .get("paths")
            .cloned()
            .ok_or_else(|| anyhow!("the definition has no paths"))?;
        let mut raw = document
            .get("definitions")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| anyhow!("the definition has no definitions"))?;
        for departure in departures.iter().copied().collect::<BTreeSet<_>>() {
            apply(departure, &mut paths, &mut raw)?;
        }
        let mut definitions = Map::new();
        for name in raw.keys() {
            definitions.insert(name.clone(), flatten(&raw, &raw[name], 0)?);
        }
        Ok(Spec { paths, definitions })
    }

    fn operation(&self, method: &str, template: &str) -> anyhow::Result<&Value> {
        self.paths
            .get(template)
            .and_then(|path| path.get(method.to_ascii_lowercase()))
            .ok_or_else(|| anyhow!("the definition has no operation {method} {template}"))
    }

    /// Returns the schema of the response to `method template` with `status`, or `None` when
    /// the definition gives that response no body.
    pub fn response_schema(
        &self,
        method: &str,
        template: &str,
        status: u16,
    ) -> anyhow::Result<Option<Value>> {
        let responses = &self.operation(method, template)?["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
            .ok_or_else(|| anyhow!("{method} {template} defines no response {status}"))?;
        Ok(response.get("schema").cloned())
    }

    /// Returns the schema of the request body of `method template`.
    pub fn request_schema(&self, method: &str, template: &str) -> anyhow::Result<Value> {
        self.operation(method, template)?
            .get("parameters")
            .and_then(Value::as_array)
            .and_then(|parameters| {
                parameters
                    .iter()
                    .find(|parameter| parameter.get("in").and_then(Value::as_str) == Some("body"))
            })
            .and_then(|parameter| parameter.get("schema").cloned())
            .ok_or_else(|| anyhow!("{method} {template} takes no body"))
    }

    /// Returns a schema that refers to the definition `name`.
    pub fn definition(&self, name: &str) -> anyhow::Result<Value> {
        if !self.definitions.contains_key(name) {
            return Err(anyhow!("the definition has no {name}"));
        }
        Ok(json!({"$ref": format!("#/definitions/{name}")}))
    }

    /// Validates `instance` against `schema`; the error lists every violation with its path.
    pub fn validate(&self, schema: &Value, instance: &Value) -> anyhow::Result<()> {
        let schema = flatten(&self.definitions, schema, 0)?;
        let root = json!({"definitions": self.definitions, "allOf": [schema]});
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|error| anyhow!("the schema does not compile: {error}"))?;
        let violations: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| format!("{} at `{}`", error, error.instance_path()))
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(
                "{} violation(s):\n  {}\nin {instance}",
                violations.len(),
                violations.join("\n  ")
            ))
        }
    }

    /// Validates the body of a response to `method template` with `status`.
    pub fn validate_response(
        &self,
        method: &str,
        template: &str,
        status: u16,
        body: &Value,
    ) -> anyhow::Result<()> {
        let schema = self
            .response_schema(method, template, status)?
            .ok_or_else(|| anyhow!("{method} {template} {status} has no body schema"))?;
        self.validate(&schema, body)
            .with_context(|| format!("response of {method} {template} with HTTP {status}"))
    }

    /// Validates the body of a request to `method template`.
    pub fn validate_request(
        &self,
        method: &str,
        template: &str,
        body: &Value,
    ) -> anyhow::Result<()> {
        let schema = self.request_schema(method, template)?;
        self.validate(&schema, body)
            .with_context(|| format!("request body of {method} {template}"))
    }
}

fn apply(
    departure: Departure,
    paths: &mut Value,
    definitions: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    match departure {
        Departure::DomainVerificationStatusKey => {
            let properties = definitions
                .get_mut("Domain")
                .and_then(|domain| domain.get_mut("properties"))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| anyhow!("Domain has no properties"))?;
            let status = properties
                .remove("status")
                .ok_or_else(|| anyhow!("Domain has no status property"))?;
            properties.insert("verificationStatus".to_owned(), status);
        }
        Departure::InventoriesWrapper => {
            let properties = paths
                .pointer_mut("/~1inventories/get/responses/200/schema/properties")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| anyhow!("GET /inventories has no response properties"))?;
            let items = properties
                .remove("inventory")
                .ok_or_else(|| anyhow!("GET /inventories has no inventory property"))?;
            properties.insert("inventories".to_owned(), items);
        }
        Departure::CrlReasonUnspecified => {
            let reason = definitions
                .get_mut("CRLReason")
                .ok_or_else(|| anyhow!("the definition has no CRLReason"))?;
            reason["enum"] = json!(["unspecified", "keyCompromise"]);
        }
        Departure::ThumbprintLookup => {
            let statuses = definitions
                .get_mut("CertificateStatus")
                .and_then(|status| status.get_mut("enum"))
                .and_then(Value::as_array_mut)
                .ok_or_else(|| anyhow!("CertificateStatus has no enum"))?;
            statuses.push(json!("UNKNOWN"));
            let error = json!({"$ref": "#/definitions/ErrorResponse"});
            paths["/certificates/thumbprints/{thumbprint}"] = json!({"get": {
                "operationId": "GetCertificateByThumbprint",
                "responses": {
                    "200": {"schema": {"$ref": "#/definitions/CertificateEx"}},
                    "400": {"schema": error},
                    "404": {"schema": error},
                    "default": {"schema": error}
                }
            }});
        }
        Departure::UnlimitedInventoryWithoutCounts => {
            let item = definitions
                .get_mut("InventoryItem")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| anyhow!("the definition has no InventoryItem"))?;
            item.insert("required".to_owned(), json!(["productType"]));
        }
    }
    Ok(())
}

/// Guards against a definition that refers to itself through `allOf`.
const MAX_DEPTH: usize = 32;

/// Merges `allOf` into one schema, resolving the referenced parts, and closes every object
/// schema with properties against other properties. `$ref`s outside `allOf` stay references.
fn flatten(
    definitions: &Map<String, Value>,
    schema: &Value,
    depth: usize,
) -> anyhow::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(anyhow!("allOf nests deeper than {MAX_DEPTH} levels"));
    }
    let Some(object) = schema.as_object() else {
        return Ok(schema.clone());
    };
    if object.contains_key("$ref") {
        return Ok(schema.clone());
    }
    let mut merged = Map::new();
    if let Some(parts) = object.get("allOf").and_then(Value::as_array) {
        for part in parts {
            let part = match ref_name(part) {
                Some(name) => definitions
                    .get(name)
                    .ok_or_else(|| anyhow!("allOf refers to unknown {name}"))?,
                None => part,
            };
            let part = flatten(definitions, part, depth + 1)?;
            merge(&mut merged, &part);
        }
    }
    let own: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| key.as_str() != "allOf")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    merge(&mut merged, &Value::Object(own));

    if let Some(properties) = merged.get_mut("properties").and_then(Value::as_object_mut) {
        for value in properties.values_mut() {
            *value = flatten(definitions, value, depth + 1)?;
        }
    }
    if let Some(items) = merged.get("items").cloned() {
        merged.insert("items".to_owned(), flatten(definitions, &items, depth + 1)?);
    }
    if merged.contains_key("properties") {
        merged.insert("type".to_owned(), json!("object"));
        merged.insert("additionalProperties".to_owned(), json!(false));
    }
    Ok(Value::Object(merged))
}

/// Merges `part` into `target`: properties and required lists are combined, a later property
/// replaces an earlier one of the same name, other keys keep their first value.
fn merge(target: &mut Map<String, Value>, part: &Value) {
    let Some(part) = part.as_object() else {
        return;
    };
    for (key, value) in part {
        match key.as_str() {
            "properties" => {
                let properties = target
                    .entry("properties")
                    .or_insert_with(|| json!({}))
                    .as_object_mut();
                if let (Some(properties), Some(added)) = (properties, value.as_object()) {
                    for (name, schema) in added {
                        properties.insert(name.clone(), schema.clone());
                    }
                }
            }
            "required" => {
                let required = target.entry("required").or_insert_with(|| json!([]));
                if let (Some(required), Some(added)) = (required.as_array_mut(), value.as_array()) {
                    for name in added {
                        if !required.contains(name) {
                            required.push(name.clone());
                        }
                    }
                }
            }
            _ => {
                target.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
}

#[test]
fn strict_schema_rejects_unnamed_fields_and_wrong_types() -> anyhow::Result<()> {
    let spec = Spec::load(&[])?;
    let schema = spec.definition("CertificateEx")?;

    let valid = spec.validate(&schema, &json!({"trackingId": 1, "status": "ACTIVE"}));
    let unnamed = spec.validate(&schema, &json!({"trackingId": 1, "colour": "red"}));
    let wrong_type = spec.validate(&schema, &json!({"trackingId": "1"}));
    let bad_enum = spec.validate(&schema, &json!({"status": "LOST"}));
    let nested = spec.validate(&schema, &json!({"tracking": {"deactivated": "yes"}}));

    assert!(valid.is_ok(), "{valid:?}");
    assert!(unnamed.is_err());
    assert!(wrong_type.is_err());
    assert!(bad_enum.is_err());
    assert!(nested.is_err());
    Ok(())
}

#[test]
fn departures_change_only_what_they_name() -> anyhow::Result<()> {
    let strict = Spec::load(&[])?;
    let lenient = Spec::load(&[Departure::DomainVerificationStatusKey])?;
    let domain = json!({"domainName": "example.com", "verificationStatus": "APPROVED"});

    let schema = strict.definition("Domain")?;
    assert!(strict.validate(&schema, &domain).is_err());
    assert!(lenient.validate(&schema, &domain).is_ok());
    assert!(
        lenient
            .validate(&schema, &json!({"verificationStatus": "SOMEWHAT"}))
            .is_err()
    );
    assert!(
        lenient
            .validate(&schema, &json!({"status": "APPROVED"}))
            .is_err()
    );
    Ok(())
}

#[test]
fn request_dates_must_be_dates() -> anyhow::Result<()> {
    let spec = Spec::load(&[])?;

    let date = spec.validate_request(
        "POST",
        "/certificates",
        &json!({"certType": "STANDARD_SSL", "certExpiryDate": "2027-01-31"}),
    );
    let date_time = spec.validate_request(
        "POST",
        "/certificates",
        &json!({"certType": "STANDARD_SSL", "certExpiryDate": "2027-01-31T00:00:00Z"}),
    );
    let string_bool = spec.validate_request(
        "POST",
        "/certificates",
        &json!({"certType": "STANDARD_SSL", "validateOnly": "true"}),
    );

    assert!(date.is_ok(), "{date:?}");
    assert!(date_time.is_err());
    assert!(string_bool.is_err());
    Ok(())
}
