//! The ECS error body: `{"status": <code>, "errors": [{"message", "field", "cause"}]}`.

use serde::Deserialize;

use super::lenient::null_as_default;
use crate::error::{ApiMessage, ApiMessages};

#[derive(Debug, Default, Deserialize)]
struct ErrorResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    cause: Option<Box<ErrorItem>>,
}

/// Nested causes deeper than this are dropped; the definition allows unbounded nesting.
const MAX_CAUSE_DEPTH: usize = 4;

/// Extracts the messages of an error body. A body that is empty, not JSON or shaped otherwise
/// yields no messages: the HTTP status alone then classifies the error.
pub(crate) fn parse_error_body(body: &[u8]) -> ApiMessages {
    let Ok(response) = serde_json::from_slice::<ErrorResponse>(body) else {
        return ApiMessages::default();
    };
    ApiMessages(
        response
            .errors
            .into_iter()
            .filter_map(|item| {
                let mut message = item.message.filter(|m| !m.trim().is_empty())?;
                let mut cause = item.cause;
                let mut depth = 0;
                while let Some(inner) = cause {
                    if depth == MAX_CAUSE_DEPTH {
                        break;
                    }
                    if let Some(text) = inner.message.as_deref().filter(|m| !m.trim().is_empty()) {
                        message.push_str(" (cause: ");
                        message.push_str(text);
                        message.push(')');
                    }
                    cause = inner.cause;
                    depth += 1;
                }
                Some(ApiMessage {
                    message,
                    field: item.field.filter(|f| !f.trim().is_empty()),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_keeps_messages_and_fields() {
        let body = br#"{"status": 400, "errors": [
            {"message": "The key size must be 1024, 1536, 2048, 3072 or 4096 bits.", "field": "csr"},
            {"message": "Domain example.org is not approved"}
        ]}"#;

        let messages = parse_error_body(body);

        assert_eq!(messages.as_slice().len(), 2);
        assert_eq!(messages.as_slice()[0].field.as_deref(), Some("csr"));
        assert_eq!(
            messages.as_slice()[0].message,
            "The key size must be 1024, 1536, 2048, 3072 or 4096 bits."
        );
        assert_eq!(messages.as_slice()[1].field, None);
        assert!(messages.mentions_field("csr"));
    }

    #[test]
    fn error_body_appends_causes() {
        let body = br#"{"status": 500, "errors": [
            {"message": "Generation failed", "cause": {"message": "HSM busy"}}
        ]}"#;

        let messages = parse_error_body(body);

        assert_eq!(
            messages.as_slice()[0].message,
            "Generation failed (cause: HSM busy)"
        );
    }

    #[test]
    fn unparseable_error_body_yields_no_messages() {
        assert!(
            parse_error_body(b"<html>Bad gateway</html>")
                .as_slice()
                .is_empty()
        );
        assert!(parse_error_body(b"").as_slice().is_empty());
        assert!(
            parse_error_body(br#"{"status": 404}"#)
                .as_slice()
                .is_empty()
        );
    }
}
