//! Lenient reading of JSON request bodies, field by field.
//!
//! Real clients differ in how they encode the same request: Ansible sends booleans as the
//! strings `"true"`/`"false"`, Keyfactor sends empty strings and arrays for unset values and
//! read-only fields such as `tracking.deactivated`, and the Go client sends no Content-Type. So
//! bodies are read as untyped JSON, unknown keys are ignored, `null` means absent, and each
//! wrong type becomes a 400 that names the field.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// Parses a request body that must be a JSON object. An empty body reads as `{}`.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::invalid_request(
            "The request body must be a JSON object.",
        )),
        Err(error) => Err(ApiError::invalid_request(format!(
            "The request body is not valid JSON: {error}."
        ))),
    }
}

/// Typed access to the fields of one JSON object, collecting every type error.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Reads the top-level object of a body.
    pub fn new(object: &'a Map<String, Value>) -> Fields<'a> {
        Fields {
            object,
            prefix: String::new(),
            errors: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|value| !value.is_null())
    }

    fn reject(&mut self, name: &str, expected: &str) {
        let field = self.path(name);
        self.errors.push(FieldError {
            message: format!("{field} must be {expected}."),
            field: Some(field),
        });
    }

    /// Records an error about `name`.
    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            message: message.into(),
            field: Some(self.path(name)),
        });
    }

    /// Reads a string. An empty string reads as absent.
    pub fn string(&mut self, name: &str) -> Option<String> {
        self.raw_string(name).filter(|value| !value.is_empty())
    }

    /// Reads a string, keeping an empty string (for fields where `""` means "blank").
    pub fn raw_string(&mut self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(text) => Some(text.clone()),
            _ => {
                self.reject(name, "a string");
                None
            }
        }
    }

    /// Reads a boolean given as a JSON boolean or as the string `"true"` or `"false"` (any case).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Value::Bool(flag) => Some(*flag),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
            Value::String(text) if text.is_empty() => None,
            _ => {
                self.reject(name, "true or false");
                None
            }
        }
    }

    /// Reads an integer given as a JSON number or a string of digits.
    pub fn integer(&mut self, name: &str) -> Option<i64> {
        let parsed = match self.get(name)? {
            Value::Number(number) => number.as_i64(),
            Value::String(text) if text.is_empty() => return None,
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.reject(name, "an integer");
        }
        parsed
    }

    /// Reads an array of strings. Empty strings are dropped and an empty array reads as absent.
    pub fn string_list(&mut self, name: &str) -> Option<Vec<String>> {
        let values = match self.get(name)? {
            Value::Array(values) => values,
            _ => {
                self.reject(name, "an array of strings");
                return None;
            }
        };
        let mut strings = Vec::with_capacity(values.len());
        for value in values {
            match value {
                Value::String(text) if text.is_empty() => {}
                Value::String(text) => strings.push(text.clone()),
                _ => {
                    self.reject(name, "an array of strings");
                    return None;
                }
            }
        }
        (!strings.is_empty()).then_some(strings)
    }

    /// Reads an array of strings, keeping empty strings and empty arrays.
    pub fn raw_string_list(&mut self, name: &str) -> Option<Vec<String>> {
        let values = match self.get(name)? {
            Value::Array(values) => values,
            _ => {
                self.reject(name, "an array of strings");
                return None;
            }
        };
        let strings: Option<Vec<String>> = values
            .iter()
            .map(|value| value.as_str().map(str::to_owned))
            .collect();
        if strings.is_none() {
            self.reject(name, "an array of strings");
        }
        strings
    }

    /// Reads a nested object; its errors are reported with `name.` before each field.
    pub fn object(&mut self, name: &str) -> Option<Fields<'a>> {
        match self.get(name)? {
            Value::Object(object) => Some(Fields {
                object,
                prefix: format!("{}{name}.", self.prefix),
                errors: Vec::new(),
            }),
            _ => {
                self.reject(name, "a JSON object");
                None
            }
        }
    }

    /// Reads a nested object as raw JSON.
    pub fn raw_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.get(name)? {
            Value::Object(object) => Some(object.clone()),
            _ => {
                self.reject(name, "a JSON object");
                None
            }
        }
    }

    /// Moves the errors of a nested reader into this one.
    pub fn absorb(&mut self, nested: Fields<'_>) {
        self.errors.extend(nested.errors);
    }

    /// Returns a 400 with every error collected so far, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => unreachable!("test values are objects"),
        }
    }

    #[test]
    fn booleans_accept_strings() {
        let body = object(json!({"a": true, "b": "false", "c": "TRUE", "d": null}));
        let mut fields = Fields::new(&body);

        assert_eq!(fields.boolean("a"), Some(true));
        assert_eq!(fields.boolean("b"), Some(false));
        assert_eq!(fields.boolean("c"), Some(true));
        assert_eq!(fields.boolean("d"), None);
        assert!(fields.finish().is_ok());
    }

    #[test]
    fn wrong_types_are_collected_with_field_paths() {
        let body = object(json!({"validateOnly": "yes", "tracking": {"trackingInfo": 5}}));
        let mut fields = Fields::new(&body);

        fields.boolean("validateOnly");
        let mut tracking = fields.object("tracking").unwrap();
        tracking.string("trackingInfo");
        fields.absorb(tracking);

        let Err(ApiError::BadRequest(errors)) = fields.finish() else {
            panic!("expected a 400");
        };
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].field.as_deref(), Some("validateOnly"));
        assert_eq!(errors[1].field.as_deref(), Some("tracking.trackingInfo"));
    }

    #[test]
    fn empty_values_read_as_absent() {
        let body = object(json!({"eku": "", "ou": [], "org": ""}));
        let mut fields = Fields::new(&body);

        assert_eq!(fields.string("eku"), None);
        assert_eq!(fields.string_list("ou"), None);
        assert_eq!(fields.raw_string("org"), Some(String::new()));
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        assert!(parse_object(b"  ").unwrap().is_empty());
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"{").is_err());
    }
}
