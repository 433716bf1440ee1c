//! Classification of one attempt's result into success, a retryable error or a final error.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::retry::{rate_limit, retry_after};
use super::{Call, Repeatable, Success};
use crate::error::Error;
use crate::wire::parse_error_body;

/// The result of one attempt.
#[derive(Debug)]
pub(crate) enum Verdict {
    Success(Success),
    /// Transient failure; the transport retries it when the call is repeatable.
    Retryable(Error),
    Fail(Error),
}

impl Verdict {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Success(success) => Some(success.status),
            Self::Retryable(error) | Self::Fail(error) => error.http_status(),
        }
    }
}

/// Classifies a failure to send the request or to read the whole response.
///
/// A connection that could not be established means nothing was sent, so the error is
/// [`Error::Unavailable`] for any call. Any later failure (timeout, reset, truncated body)
/// leaves the effect of a non-repeatable call unknown.
pub(crate) fn classify_transport_error(call: &Call, error: reqwest::Error) -> Verdict {
    if call.repeatable == Repeatable::Yes || error.is_connect() {
        let retryable = call.repeatable == Repeatable::Yes;
        let error = Error::Unavailable {
            endpoint: call.endpoint,
            status: None,
            retry_after: None,
            messages: Default::default(),
            source: Some(error),
        };
        return if retryable {
            Verdict::Retryable(error)
        } else {
            Verdict::Fail(error)
        };
    }
    Verdict::Fail(Error::OutcomeUnknown {
        endpoint: call.endpoint,
        status: None,
        source: Some(error),
    })
}

/// Classifies a complete response by its status code.
pub(crate) fn classify_response(
    call: &Call,
    status: StatusCode,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> Verdict {
    if status.is_success() {
        let header = |name: reqwest::header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(|value| value.trim().to_owned())
        };
        return Verdict::Success(Success {
            status: status.as_u16(),
            body,
            location: header(reqwest::header::LOCATION),
            retry_after: header(reqwest::header::RETRY_AFTER),
        });
    }
    let endpoint = call.endpoint;
    let messages = parse_error_body(&body);
    match status.as_u16() {
        400 => Verdict::Fail(Error::InvalidRequest { endpoint, messages }),
        401 => Verdict::Fail(Error::CredentialsRejected { endpoint, messages }),
        403 => Verdict::Fail(Error::PermissionDenied { endpoint, messages }),
        404 => Verdict::Fail(Error::NotFound {
            endpoint,
            path: call.path.clone(),
            messages,
        }),
        // Throttled calls were not processed, but a non-repeatable call is still returned to
        // its caller rather than resent here.
        429 => Verdict::Retryable(Error::RateLimited {
            endpoint,
            retry_after: retry_after(headers),
            limit_per_30s: rate_limit(headers),
            messages,
        }),
        code @ 500..=599 if call.repeatable == Repeatable::No => {
            Verdict::Fail(Error::OutcomeUnknown {
                endpoint,
                status: Some(code),
                source: None,
            })
        }
        code @ (500 | 502 | 503 | 504) => Verdict::Retryable(Error::Unavailable {
            endpoint,
            status: Some(code),
            retry_after: retry_after(headers),
            messages,
            source: None,
        }),
        code @ 500..=599 => Verdict::Fail(Error::Unavailable {
            endpoint,
            status: Some(code),
            retry_after: None,
            messages,
            source: None,
        }),
        code => Verdict::Fail(Error::UnexpectedStatus {
            endpoint,
            status: code,
            messages,
        }),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use reqwest::header::HeaderValue;

    use super::*;

    fn call(repeatable: Repeatable) -> Call {
        Call {
            endpoint: "POST /certificates",
            method: Method::POST,
            path: "/certificates".to_owned(),
            query: Vec::new(),
            body: None,
            repeatable,
        }
    }

    fn classify(repeatable: Repeatable, status: u16, body: &str) -> Verdict {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        let Ok(status) = StatusCode::from_u16(status) else {
            panic!("test status {status} is not a valid HTTP status");
        };
        classify_response(
            &call(repeatable),
            status,
            &headers,
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn server_error_on_order_is_outcome_unknown() {
        let verdict = classify(Repeatable::No, 502, "");

        assert!(matches!(
            verdict,
            Verdict::Fail(Error::OutcomeUnknown {
                status: Some(502),
                ..
            })
        ));
    }

    #[test]
    fn server_error_on_read_is_retryable() {
        let verdict = classify(Repeatable::Yes, 503, "");

        let Verdict::Retryable(error) = verdict else {
            panic!("503 on a GET must be retryable, got {verdict:?}");
        };
        assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(2)));
        assert_eq!(error.http_status(), Some(503));
    }

    #[test]
    fn not_implemented_is_not_retried() {
        assert!(matches!(
            classify(Repeatable::Yes, 501, ""),
            Verdict::Fail(Error::Unavailable {
                status: Some(501),
                ..
            })
        ));
    }

    #[test]
    fn client_errors_map_to_their_variants() {
        let body = r#"{"status":400,"errors":[{"message":"bad","field":"csr"}]}"#;
        let Verdict::Fail(error) = classify(Repeatable::No, 400, body) else {
            panic!("400 must fail");
        };
        assert!(
            matches!(&error, Error::InvalidRequest { messages, .. } if messages.mentions_field("csr"))
        );

        assert!(matches!(
            classify(Repeatable::Yes, 401, ""),
            Verdict::Fail(Error::CredentialsRejected { .. })
        ));
        assert!(matches!(
            classify(Repeatable::Yes, 403, ""),
            Verdict::Fail(Error::PermissionDenied { .. })
        ));
        assert!(matches!(
            classify(Repeatable::Yes, 404, ""),
            Verdict::Fail(Error::NotFound { .. })
        ));
        assert!(matches!(
            classify(Repeatable::Yes, 409, ""),
            Verdict::Fail(Error::UnexpectedStatus { status: 409, .. })
        ));
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let Verdict::Retryable(error) = classify(Repeatable::No, 429, "") else {
            panic!("429 must be classified as retryable");
        };
        assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(2)));
    }
}
