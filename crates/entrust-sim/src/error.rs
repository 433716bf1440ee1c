//! The error every simulated endpoint returns, and its ECS wire form.
//!
//! ECS returns an ErrorResponse for every failure: `{"status": <HTTP code>, "errors":
//! [{"message": ..., "field": ...}]}`, where `field` names the request field at fault and is
//! left out when no field is. The simulator uses that body for every error status, injected
//! faults included.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The header of a 429 that states the requests allowed per 30-second window.
pub const RATE_LIMIT_LIMIT: &str = "x-rate-limit-limit";

/// One entry of an ErrorResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// A human-readable reason.
    pub message: String,
    /// The request field that caused the error, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The ECS ErrorResponse body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The HTTP status code, repeated in the body.
    pub status: u16,
    /// At least one error.
    pub errors: Vec<FieldError>,
}

/// A request the simulator rejects, or an internal failure while serving it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is invalid; each entry names its field where there is one.
    #[error("invalid request: {}", join_messages(.0))]
    BadRequest(Vec<FieldError>),
    /// 401: credentials are missing or wrong, or a bound client certificate is missing.
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    /// 403: the API user lacks the permission the operation needs.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: the resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the control API cannot do this in the simulator's current configuration.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 429: the API user sent too many requests; sent with `Retry-After` and
    /// `X-Rate-Limit-Limit`.
    #[error("rate limited: retry after {retry_after_seconds} s")]
    RateLimited {
        /// Whole seconds until the client may retry.
        retry_after_seconds: u64,
        /// Requests allowed per 30-second window.
        limit: u32,
    },
    /// An error status a test injected (5xx), with its ErrorResponse message.
    #[error("injected {status}: {message}")]
    Injected {
        /// The HTTP status.
        status: StatusCode,
        /// The message of the ErrorResponse.
        message: String,
    },
    /// 500: the simulator failed; the cause is logged, the client sees a generic message.
    #[error("internal error while trying to {action}")]
    Internal {
        /// The action that failed.
        action: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn join_messages(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|error| error.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// Builds a 400 with one message about `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(vec![FieldError {
            message: message.into(),
            field: Some(field.to_owned()),
        }])
    }

    /// Builds a 400 with one message that names no field.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(vec![FieldError {
            message: message.into(),
            field: None,
        }])
    }

    /// Wraps an internal failure.
    pub fn internal(
        action: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> ApiError {
        ApiError::Internal {
            action,
            source: Box::new(source),
        }
    }

    /// Returns the HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Injected { status, .. } => *status,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Returns the ErrorResponse body of this error.
    pub fn body(&self) -> ErrorBody {
        let single = |message: &str| {
            vec![FieldError {
                message: message.to_owned(),
                field: None,
            }]
        };
        let errors = match self {
            ApiError::BadRequest(errors) => errors.clone(),
            ApiError::Unauthorized(message)
            | ApiError::Forbidden(message)
            | ApiError::NotFound(message)
            | ApiError::Conflict(message)
            | ApiError::Injected { message, .. } => single(message),
            ApiError::MethodNotAllowed => {
                single("The HTTP method is not allowed on this resource.")
            }
            ApiError::RateLimited {
                retry_after_seconds,
                limit,
            } => single(&format!(
                "Too many requests: at most {limit} requests per 30 seconds are allowed for \
                 this API user; retry after {retry_after_seconds} seconds."
            )),
            ApiError::Internal { .. } => single("Internal server error."),
        };
        ErrorBody {
            status: self.status().as_u16(),
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal { action, source } = &self {
            tracing::error!(error = %source, action, "Simulator request failed with an internal error");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Entrust Certificate Services\""),
                );
            }
            ApiError::RateLimited {
                retry_after_seconds,
                limit,
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
                headers.insert(RATE_LIMIT_LIMIT, HeaderValue::from(limit));
            }
            _ => {}
        }
        response
    }
}
