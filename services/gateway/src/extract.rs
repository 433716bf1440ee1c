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
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(problem_for(&rejection)),
        }
    }
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
                Err(Problem::malformed_query(detail))
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
        JsonRejection::MissingJsonContentType(_) => {
            Problem::malformed_body("send the body as JSON with Content-Type: application/json")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Problem::payload_too_large(
            format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
        ),
        other => Problem::malformed_body(other.body_text()),
    }
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
            Problem::invalid_field(path, without_position(reason))
        }
        _ => Problem::malformed_body(detail),
    }
}

/// Returns the text between the first `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.split_once(start)?.1;
    rest.split_once(end).map(|(inside, _)| inside)
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
    fn array_body_does_not_leak_type_names() {
        let problem =
            problem_for_data_error("invalid type: sequence, expected struct AddCredential");
        assert_eq!(problem.detail, "the body must be a JSON object");
    }
}
