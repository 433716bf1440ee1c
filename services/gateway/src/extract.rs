//! Body and query extractors whose rejections are problem details naming what is wrong.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Like `axum::Json`, but a malformed body, a missing field or a wrong type is answered with a
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

/// Like `axum::extract::Query`, but a malformed query string is answered with a 400 problem.
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
            // serde's message names the field and the expected type, for example
            // "missing field `api_key` at line 1 column 20".
            let detail = std::error::Error::source(error)
                .map_or_else(|| error.body_text(), ToString::to_string);
            match missing_field(&detail) {
                Some(field) => Problem::invalid_field(&field, "is required"),
                None => Problem::malformed_body(detail),
            }
        }
        JsonRejection::MissingJsonContentType(_) => {
            Problem::malformed_body("send the body as JSON with Content-Type: application/json")
        }
        other => Problem::malformed_body(other.body_text()),
    }
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.split("missing field `").nth(1)?;
    rest.split('`').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_is_named() {
        let field = missing_field("missing field `api_key` at line 1 column 20");
        assert_eq!(field.as_deref(), Some("api_key"));
        assert_eq!(missing_field("invalid type: string"), None);
    }
}
