//! Body and query extractors whose rejections are problem details naming what is wrong.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Like `axum::Json`, but a malformed body, a missing field or a wrong type is rejected with a
/// 400 problem that says which.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_media_type(request.headers()) {
            return Err(Problem::unsupported_media_type(
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::payload_too_large(format!(
                        "the body is larger than {} bytes",
                        crate::MAX_BODY_BYTES
                    ))
                } else {
                    Problem::malformed_body(rejection.body_text())
                }
            })?;
        // serde reads a struct from an array too, so a body of `[]` would pass as an object
        // whose fields are all optional.
        if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Problem::malformed_body("the body must be a JSON object"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(problem_for(&rejection)),
        }
    }
}

/// Tells whether the request's Content-Type is JSON: `application/json` or a `+json` type.
fn has_json_media_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Like `axum::extract::Query`, but a malformed query string is rejected with a 400 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => {
                let detail = std::error::Error::source(&error)
                    .map_or_else(|| error.body_text(), ToString::to_string);
                Err(problem_for_query_error(&detail))
            }
            Err(other) => Err(Problem::malformed_query(other.body_text())),
        }
    }
}

fn problem_for(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            // axum reports the field's path before serde's message, for example
            // "dns_names[0]: invalid type: integer `5`, expected a string at line 1 column 20".
            let detail = std::error::Error::source(error)
                .map_or_else(|| error.body_text(), ToString::to_string);
            problem_for_data_error(&detail)
        }
        JsonRejection::MissingJsonContentType(_) => Problem::unsupported_media_type(
            "send the body as JSON with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Problem::payload_too_large(
            format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
        ),
        other => Problem::malformed_body(other.body_text()),
    }
}

/// Turns serde's message about a query parameter into a problem that names the parameter and
/// states in plain words what it takes.
fn problem_for_query_error(detail: &str) -> Problem {
    if let Some(field) = between(detail, "duplicate field `", "`") {
        return Problem::invalid_field(field, "is given more than once: give it once");
    }
    if let Some(field) = between(detail, "unknown field `", "`") {
        return Problem::invalid_field(field, "is not a parameter of this route: remove it");
    }
    let Some((field, reason)) = detail.split_once(": ").filter(|(field, _)| {
        !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }) else {
        return Problem::malformed_query(detail);
    };
    let plain = if reason.contains("digit")
        || reason.contains("integer")
        || reason.contains("too large")
        || reason.contains("too small")
    {
        "is not a whole number in the route's range: give digits only, such as 50".to_owned()
    } else if reason.contains("`true` or `false`") {
        "must be true or false".to_owned()
    } else {
        in_plain_words(reason)
    };
    Problem::invalid_field(field, plain)
}

/// Turns serde's message about a well-formed JSON body of the wrong shape into a problem that
/// names the field.
fn problem_for_data_error(detail: &str) -> Problem {
    if let Some(field) = between(detail, "missing field `", "`") {
        return Problem::invalid_field(field, "is required: add it to the request body");
    }
    if let Some(field) = between(detail, "unknown field `", "`") {
        return Problem::invalid_field(
            field,
            "is not a field of this request: remove it (see docs/api.md for the fields)",
        );
    }
    if detail.contains("expected struct") || detail.contains("expected a map") {
        return Problem::malformed_body("the body must be a JSON object");
    }
    match detail.split_once(": ") {
        Some((path, reason)) if path != "." && !path.contains(' ') => {
            Problem::invalid_field(path, in_plain_words(without_position(reason)))
        }
        _ => Problem::malformed_body(detail),
    }
}

/// Returns the text between the first `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.split_once(start)?.1;
    rest.split_once(end).map(|(inside, _)| inside)
}

/// Replaces the Rust integer types serde names ("expected u32") with the range they allow.
fn in_plain_words(reason: &str) -> String {
    const RANGES: [(&str, &str); 8] = [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0 to 18446744073709551615"),
        ("i8", "a whole number from -128 to 127"),
        ("i16", "a whole number from -32768 to 32767"),
        ("i32", "a whole number from -2147483648 to 2147483647"),
        (
            "i64",
            "a whole number from -9223372036854775808 to 9223372036854775807",
        ),
    ];
    let mut reason = reason.to_owned();
    for (rust_type, words) in RANGES {
        reason = reason.replace(
            &format!("expected {rust_type}"),
            &format!("expected {words}"),
        );
    }
    reason.replace("expected f64", "expected a number")
}

/// Drops serde's " at line L column C" suffix, which means nothing to an API client.
fn without_position(reason: &str) -> &str {
    reason.split(" at line ").next().unwrap_or(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_is_named() {
        let problem = problem_for_data_error("missing field `api_key` at line 1 column 20");
        assert_eq!(problem.invalid_params[0].name, "api_key");
    }

    #[test]
    fn unknown_field_is_named() {
        let problem = problem_for_data_error("unknown field `colour`, expected one of `name`");
        assert_eq!(problem.invalid_params[0].name, "colour");
    }

    #[test]
    fn wrong_type_names_path_without_position() {
        let problem = problem_for_data_error(
            "dns_names[0]: invalid type: integer `5`, expected a string at line 1 column 20",
        );
        assert_eq!(problem.invalid_params[0].name, "dns_names[0]");
        assert_eq!(
            problem.invalid_params[0].reason,
            "invalid type: integer `5`, expected a string"
        );
    }

    #[test]
    fn json_media_types_are_recognized() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_str(value).unwrap(),
            );
            has_json_media_type(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!has_json_media_type(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn query_number_error_is_in_plain_words() {
        let problem = problem_for_query_error("limit: invalid digit found in string");
        assert_eq!(problem.invalid_params[0].name, "limit");
        assert!(
            problem.invalid_params[0].reason.contains("whole number"),
            "{problem:?}"
        );
    }

    #[test]
    fn repeated_query_parameter_is_named() {
        let problem = problem_for_query_error("duplicate field `limit`");
        assert_eq!(problem.invalid_params[0].name, "limit");
        assert_eq!(
            problem.invalid_params[0].reason,
            "is given more than once: give it once"
        );
    }

    #[test]
    fn integer_type_is_named_by_its_range() {
        let problem = problem_for_data_error(
            "days_before_expiry: invalid value: integer `-3`, expected u32 at line 1 column 25",
        );
        assert_eq!(
            problem.invalid_params[0].reason,
            "invalid value: integer `-3`, expected a whole number from 0 to 4294967295"
        );
    }

    #[test]
    fn array_body_does_not_leak_type_names() {
        let problem =
            problem_for_data_error("invalid type: sequence, expected struct AddCredential");
        assert_eq!(problem.detail, "the body must be a JSON object");
    }
}
