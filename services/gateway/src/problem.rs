//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every error the gateway returns has this one shape. A client mistake names the offending
//! field and how to fix it in `invalid_params`. An internal failure is logged once with its
//! cause and returned as an opaque 500 or 503.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid request parameter: the field and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvalidParam {
    /// The field's name as the client sent it, e.g. `dns_names[1]`.
    pub name: String,
    /// The fault and its fix.
    pub reason: String,
}

/// A problem details document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// The problem type: `urn:certitude:problem:` followed by a slug such as `not-found`.
    #[serde(rename = "type")]
    #[schema(pattern = "^urn:certitude:problem:[a-z]+(-[a-z]+)*$")]
    pub problem_type: String,
    /// Summary of the problem type, the same for every problem of that type.
    pub title: String,
    /// The response's HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// Explanation of this occurrence of the problem, with what to do about it.
    pub detail: String,
    /// Each invalid field of the request with its fix; absent when no field is at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(min_items = 1)]
    pub invalid_params: Vec<InvalidParam>,
}

impl Problem {
    fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:certitude:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            invalid_params: Vec::new(),
        }
    }

    /// 400: a field is missing or malformed.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut problem = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            format!("{field}: {reason}"),
        );
        problem.invalid_params.push(InvalidParam {
            name: field.to_owned(),
            reason,
        });
        problem
    }

    /// 400: the body is not valid JSON of the expected shape.
    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed request body",
            detail,
        )
    }

    /// 400: the query string does not fit the route's parameters.
    pub fn malformed_query(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-query",
            "Malformed query string",
            detail,
        )
    }

    /// 405: the route exists, but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this route does not accept the method; docs/api.md lists the routes and methods",
        )
    }

    /// 413: the body is over the size limit.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Body too large",
            detail,
        )
    }

    /// 415: the body is not in a media type the route reads.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    /// 401: no valid bearer token.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            detail,
        )
    }

    /// 403: the token's role may not call this route.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// 404: the resource does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 422: well-formed, but cannot be carried out (for example Entrust rejected it).
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            "Request cannot be carried out",
            detail,
        )
    }

    /// 429: the token sent more requests than its rate allows. The caller sets `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!(
                "this token sent more requests than the gateway allows per token; \
                 retry after {retry_after_secs} s, or spread the requests over time"
            ),
        )
    }

    /// 504: the request did not finish within the gateway's deadline.
    pub fn timed_out(deadline: std::time::Duration) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timed-out",
            "Request timed out",
            format!(
                "the request did not finish within {}; a change may still have been made: \
                 read the resource before retrying (an order creation may be retried with the \
                 same Idempotency-Key)",
                humantime::format_duration(deadline)
            ),
        )
    }

    /// 503: a dependency is unavailable; retrying later may succeed.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// 500: an internal failure whose cause was logged, not returned.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request failed inside Certitude; the cause was logged",
        )
    }

    /// Returns the HTTP status code.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"certitude\""),
            );
        }
        response
    }
}

/// Returns the first 64 characters of `value`, with an ellipsis when it was longer, so that a
/// problem that repeats client input stays short whatever the client sent.
pub fn excerpt(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// Maps a gRPC status from a service to a problem, logging internal causes once.
pub fn from_status(status: &tonic::Status) -> Problem {
    use tonic::Code;
    let message = status.message();
    match status.code() {
        Code::InvalidArgument => match message.split_once(": ") {
            Some((field, reason)) if is_field_name(field) => rest_field(field, reason),
            _ => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
                message,
            ),
        },
        Code::NotFound => Problem::not_found(message),
        Code::AlreadyExists | Code::Aborted => Problem::conflict(message),
        Code::FailedPrecondition => Problem::unprocessable(message),
        Code::PermissionDenied => Problem::forbidden(message),
        Code::Unauthenticated => Problem::unauthenticated(message),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
            Problem::unavailable(message)
        }
        _ => {
            tracing::error!(grpc.code = ?status.code(), grpc.message = message, "service call failed");
            Problem::internal()
        }
    }
}

/// Names a service's paging field as the REST API calls it.
fn rest_field(field: &str, reason: &str) -> Problem {
    match field {
        "page_token" => Problem::invalid_field(
            "cursor",
            "is not a cursor from a previous page: pass next_cursor unchanged",
        ),
        "page_size" => Problem::invalid_field("limit", reason),
        _ => Problem::invalid_field(field, reason),
    }
}

/// Turns the result of a service call into its message, or the problem its status maps to.
pub trait GrpcResultExt<T> {
    /// Returns the response message, or the problem [`from_status`] makes of the status.
    fn or_problem(self) -> Result<T, Problem>;
}

impl<T> GrpcResultExt<T> for Result<tonic::Response<T>, tonic::Status> {
    fn or_problem(self) -> Result<T, Problem> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| from_status(&status))
    }
}

fn is_field_name(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_field_names_field_and_reason() {
        let problem = Problem::invalid_field("common_name", "is required");
        let body = serde_json::to_value(&problem).unwrap();

        assert_eq!(body["status"], 400);
        assert_eq!(body["invalid_params"][0]["name"], "common_name");
        assert_eq!(body["invalid_params"][0]["reason"], "is required");
        assert_eq!(body["type"], "urn:certitude:problem:invalid-request");
    }

    #[test]
    fn response_has_problem_media_type() {
        let response = Problem::not_found("order 7 not found").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn invalid_argument_status_keeps_field() {
        let status = tonic::Status::invalid_argument("dns_names[0]: not a DNS name");
        let problem = from_status(&status);
        assert_eq!(problem.invalid_params[0].name, "dns_names[0]");
    }

    #[test]
    fn page_token_is_reported_as_cursor() {
        let status = tonic::Status::invalid_argument("page_token: not a page token");
        let problem = from_status(&status);
        assert_eq!(problem.invalid_params[0].name, "cursor");
        assert!(problem.invalid_params[0].reason.contains("next_cursor"));
    }

    #[test]
    fn unauthorized_response_names_bearer_scheme() {
        let response = Problem::unauthenticated("no token").into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"certitude\""
        );
    }

    #[test]
    fn long_value_is_cut_to_an_excerpt() {
        assert_eq!(excerpt(&"n".repeat(100)).chars().count(), 65);
        assert!(excerpt(&"n".repeat(100)).ends_with('…'));
        assert_eq!(excerpt("limit"), "limit");
    }

    #[test]
    fn internal_status_hides_message() {
        let status = tonic::Status::internal("connection to 10.0.0.1 refused");
        let problem = from_status(&status);
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("10.0.0.1"));
    }
}
