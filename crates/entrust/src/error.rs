//! The adapter's error type.
//!
//! Variants follow what a caller must do next. It fixes the credential (401), uses another
//! credential (403), stops looking (404), fixes the request (400), waits (429) or retries later
//! (5xx, network). For a change whose submission may or may not have taken effect, it
//! reconciles. No variant's `Display` or `Debug` output contains the API key, the client key
//! or the `Authorization` header.

use std::fmt;
use std::time::Duration;

/// One message from an ECS error body, with the request field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMessage {
    /// Human-readable reason, as Entrust wrote it.
    pub message: String,
    /// The request field the message concerns, for example `csr`.
    pub field: Option<String>,
}

/// The messages of an ECS error body, possibly none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiMessages(pub Vec<ApiMessage>);

impl ApiMessages {
    /// Returns the messages.
    pub fn as_slice(&self) -> &[ApiMessage] {
        &self.0
    }

    /// Tells whether any message concerns `field`.
    pub fn mentions_field(&self, field: &str) -> bool {
        self.0.iter().any(|m| m.field.as_deref() == Some(field))
    }
}

/// Writes `: field: message; message` after the status text, or nothing without messages.
impl fmt::Display for ApiMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, message) in self.0.iter().enumerate() {
            f.write_str(if index == 0 { ": " } else { "; " })?;
            if let Some(field) = &message.field {
                write!(f, "{field}: ")?;
            }
            f.write_str(&message.message)?;
        }
        Ok(())
    }
}

/// Errors of the Entrust adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is unusable.
    #[error("invalid Entrust client configuration: {field} {reason}")]
    Config {
        /// The configuration field at fault.
        field: &'static str,
        /// Explanation of the fault and its fix.
        reason: String,
        /// The underlying failure, when it carries no secret.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// A request was rejected locally before anything was sent.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The input field at fault.
        field: &'static str,
        /// Explanation of the fault and its fix.
        reason: String,
    },

    /// Entrust rejected the credentials (HTTP 401).
    #[error(
        "Entrust rejected the credentials for {endpoint} (HTTP 401){messages}: check the API user \
         name, the API key and, when the API user has one bound, the client certificate"
    )]
    CredentialsRejected {
        /// The endpoint template, for example `GET /organizations`.
        endpoint: &'static str,
        /// Entrust's messages.
        messages: ApiMessages,
    },

    /// The API user lacks the permission the call needs (HTTP 403).
    #[error(
        "the Entrust API user may not call {endpoint} (HTTP 403){messages}: use a credential \
         with administrator rights or grant the permission in the Entrust portal"
    )]
    PermissionDenied {
        /// The endpoint template.
        endpoint: &'static str,
        /// Entrust's messages.
        messages: ApiMessages,
    },

    /// The resource does not exist (HTTP 404).
    #[error("Entrust has no resource at {path} ({endpoint}, HTTP 404){messages}")]
    NotFound {
        /// The endpoint template.
        endpoint: &'static str,
        /// The requested path below the base URL, for example `/certificates/1234`.
        path: String,
        /// Entrust's messages.
        messages: ApiMessages,
    },

    /// Entrust rejected the request as invalid (HTTP 400), naming fields where it could.
    #[error("Entrust rejected {endpoint} as invalid (HTTP 400){messages}")]
    InvalidRequest {
        /// The endpoint template.
        endpoint: &'static str,
        /// Entrust's messages, each with the request field it concerns.
        messages: ApiMessages,
    },

    /// Entrust throttled the caller (HTTP 429) and retrying within the policy did not help.
    #[error(
        "Entrust rate-limited {endpoint} (HTTP 429){messages}: wait {} before calling again",
        describe_wait(.retry_after)
    )]
    RateLimited {
        /// The endpoint template.
        endpoint: &'static str,
        /// How long Entrust asked to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// Requests allowed per 30 seconds, from `X-Rate-Limit-Limit`.
        limit_per_30s: Option<u32>,
        /// Entrust's messages.
        messages: ApiMessages,
    },

    /// Entrust could not be reached or failed: a 5xx, a connection failure, or a timeout of a
    /// call that is safe to repeat. The call had no effect or can be repeated.
    #[error(
        "Entrust is unavailable for {endpoint} ({}){messages}: retry later",
        describe_failure(.status, .source)
    )]
    Unavailable {
        /// The endpoint template.
        endpoint: &'static str,
        /// The HTTP status, when a response arrived.
        status: Option<u16>,
        /// How long Entrust asked to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// Entrust's messages.
        messages: ApiMessages,
        /// The transport failure, when no response arrived.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// A call that is not safe to repeat was sent but its result cannot be known: a timeout, a
    /// broken connection or a 5xx after the body was sent. Entrust may have applied it.
    ///
    /// For a new order, a renewal or a reissue, look the new order up by its tracking marker
    /// before sending the call again. For an approval, decline, suspension, resumption,
    /// revocation or deactivation, read the order: its status shows whether the change was
    /// applied. Sending such a change again blindly can fail with HTTP 400 (for example a
    /// second SUSPEND of a suspended order) or, for an order, create a duplicate.
    #[error(
        "the outcome of {endpoint} is unknown ({}): Entrust may have applied it; read the \
         order (for a new order, renewal or reissue, look it up by its tracking marker) \
         before sending the call again",
        describe_failure(.status, .source)
    )]
    OutcomeUnknown {
        /// The endpoint template.
        endpoint: &'static str,
        /// The HTTP status, when a response arrived.
        status: Option<u16>,
        /// The transport failure, when no complete response arrived.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// Entrust responded with a status this adapter does not expect for the call.
    #[error("Entrust responded to {endpoint} with unexpected HTTP {status}{messages}")]
    UnexpectedStatus {
        /// The endpoint template.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// Entrust's messages, when the body was an error body.
        messages: ApiMessages,
    },

    /// The certificate authority behind this adapter does not offer the operation.
    #[error("{operation} is not supported by this certificate authority adapter")]
    Unsupported {
        /// The operation, for example `revoke`.
        operation: &'static str,
    },

    /// The shared rate budget could not give the call a slot, so nothing was sent.
    #[error("no request was sent to {endpoint}: the Entrust rate budget failed")]
    RateBudget {
        /// The endpoint template.
        endpoint: &'static str,
        /// The budget's error.
        #[source]
        source: crate::rate::RateBudgetError,
    },

    /// A successful response body could not be decoded.
    #[error("failed to decode the response of {endpoint} (HTTP {status})")]
    Decode {
        /// The endpoint template.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// The JSON failure.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Returns the HTTP status of the response behind this error, when one arrived.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::CredentialsRejected { .. } => Some(401),
            Self::PermissionDenied { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::InvalidRequest { .. } => Some(400),
            Self::RateLimited { .. } => Some(429),
            Self::Unavailable { status, .. } | Self::OutcomeUnknown { status, .. } => *status,
            Self::UnexpectedStatus { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::Config { .. }
            | Self::InvalidInput { .. }
            | Self::Unsupported { .. }
            | Self::RateBudget { .. } => None,
        }
    }

    /// Tells whether repeating the same call later may succeed without any change.
    ///
    /// [`Error::OutcomeUnknown`] is not transient: repeating it may duplicate an order. A
    /// failed rate budget store is transient; a misconfigured budget is not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } => true,
            Self::RateBudget { source, .. } => {
                matches!(source, crate::rate::RateBudgetError::Store { .. })
            }
            _ => false,
        }
    }

    /// Returns how long Entrust asked to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Returns Entrust's messages, empty when the error carries none.
    pub fn api_messages(&self) -> &[ApiMessage] {
        match self {
            Self::CredentialsRejected { messages, .. }
            | Self::PermissionDenied { messages, .. }
            | Self::NotFound { messages, .. }
            | Self::InvalidRequest { messages, .. }
            | Self::RateLimited { messages, .. }
            | Self::Unavailable { messages, .. }
            | Self::UnexpectedStatus { messages, .. } => messages.as_slice(),
            _ => &[],
        }
    }
}

fn describe_wait(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("{} s", wait.as_secs()),
        None => "a few seconds".to_owned(),
    }
}

fn describe_failure(status: &Option<u16>, source: &Option<reqwest::Error>) -> String {
    match (status, source) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) if error.is_timeout() => "timed out".to_owned(),
        (None, Some(error)) if error.is_connect() => "connection failed".to_owned(),
        (None, _) => "connection broken".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_request_display_lists_fields_and_messages() {
        let error = Error::InvalidRequest {
            endpoint: "POST /certificates",
            messages: ApiMessages(vec![
                ApiMessage {
                    message: "The key size must be 2048, 3072 or 4096 bits.".to_owned(),
                    field: Some("csr".to_owned()),
                },
                ApiMessage {
                    message: "Domain not approved".to_owned(),
                    field: None,
                },
            ]),
        };

        assert_eq!(
            error.to_string(),
            "Entrust rejected POST /certificates as invalid (HTTP 400): csr: The key size must \
             be 2048, 3072 or 4096 bits.; Domain not approved"
        );
        assert_eq!(error.http_status(), Some(400));
        assert!(!error.is_transient());
    }

    #[test]
    fn rate_limited_names_the_wait() {
        let error = Error::RateLimited {
            endpoint: "GET /certificates",
            retry_after: Some(Duration::from_secs(7)),
            limit_per_30s: Some(10),
            messages: ApiMessages::default(),
        };

        assert!(error.to_string().contains("wait 7 s"));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        assert!(error.is_transient());
    }

    #[test]
    fn outcome_unknown_is_not_transient() {
        let error = Error::OutcomeUnknown {
            endpoint: "POST /certificates",
            status: Some(502),
            source: None,
        };

        assert!(!error.is_transient());
        assert!(error.to_string().contains("HTTP 502"));
    }
}
