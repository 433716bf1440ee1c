//! The error every simulated endpoint returns, and its ECS wire form.
//!
//! ECS returns an ErrorResponse for every failure: `{"status": <HTTP code>, "errors":
//! [{"message": ..., "field": ...}]}`, where `field` names the request field at fault and is
//! left out when no field is. The simulator uses that body for 400, 401, 404, 405 and 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

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
    /// 401: credentials are missing or wrong.
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    /// 404: the resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
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
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
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
            ApiError::Unauthorized(message) | ApiError::NotFound(message) => single(message),
            ApiError::MethodNotAllowed => {
                single("The HTTP method is not allowed on this resource.")
            }
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
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Entrust Certificate Services\""),
            );
        }
        response
    }
}
