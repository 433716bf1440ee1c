//! Instruments of the Entrust calls: calls and their latency by endpoint template and outcome,
//! retries, and HTTP 429 responses. Attributes never contain a URL, a query or a credential.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use crate::error::Error;

struct Instruments {
    calls: Counter<u64>,
    duration: Histogram<f64>,
    retries: Counter<u64>,
    rate_limited: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("certitude");
        Instruments {
            calls: meter
                .u64_counter("entrust.requests")
                .with_description("Entrust API calls by endpoint and outcome, retries included")
                .with_unit("{request}")
                .build(),
            duration: meter
                .f64_histogram("entrust.request.duration")
                .with_description("Duration of an Entrust API call, its retries included")
                .with_unit("s")
                .build(),
            retries: meter
                .u64_counter("entrust.retries")
                .with_description("Entrust API attempts repeated after a transient failure")
                .with_unit("{retry}")
                .build(),
            rate_limited: meter
                .u64_counter("entrust.rate_limited")
                .with_description("Entrust API responses with HTTP 429 Too Many Requests")
                .with_unit("{response}")
                .build(),
        }
    })
}

/// Records one finished call of `endpoint` (a template such as `GET /certificates/{trackingId}`).
pub(super) fn record_call(endpoint: &'static str, result: Result<(), &Error>, elapsed: Duration) {
    let attributes = [
        KeyValue::new("endpoint", endpoint),
        KeyValue::new("outcome", outcome(result)),
    ];
    let instruments = instruments();
    instruments.calls.add(1, &attributes);
    // Zero adds make the retry and 429 series of every called endpoint exist from its first
    // call, so that `rate()` finds them before the first retry.
    let endpoint_only = [KeyValue::new("endpoint", endpoint)];
    instruments.retries.add(0, &endpoint_only);
    instruments.rate_limited.add(0, &endpoint_only);
    instruments
        .duration
        .record(elapsed.as_secs_f64(), &attributes);
}

/// Records a retry of `endpoint`.
pub(super) fn record_retry(endpoint: &'static str) {
    instruments()
        .retries
        .add(1, &[KeyValue::new("endpoint", endpoint)]);
}

/// Records an HTTP 429 response to `endpoint`.
pub(super) fn record_rate_limited(endpoint: &'static str) {
    instruments()
        .rate_limited
        .add(1, &[KeyValue::new("endpoint", endpoint)]);
}

/// Returns the `outcome` attribute: `success` or the error's kind in snake case.
fn outcome(result: Result<(), &Error>) -> &'static str {
    let Err(error) = result else {
        return "success";
    };
    match error {
        Error::Config { .. } => "config",
        Error::InvalidInput { .. } => "invalid_input",
        Error::CredentialsRejected { .. } => "credentials_rejected",
        Error::PermissionDenied { .. } => "permission_denied",
        Error::NotFound { .. } => "not_found",
        Error::InvalidRequest { .. } => "invalid_request",
        Error::RateLimited { .. } => "rate_limited",
        Error::Unavailable { .. } => "unavailable",
        Error::OutcomeUnknown { .. } => "outcome_unknown",
        Error::UnexpectedStatus { .. } => "unexpected_status",
        Error::Unsupported { .. } => "unsupported",
        Error::RateBudget { .. } => "rate_budget",
        Error::Decode { .. } => "decode",
    }
}
