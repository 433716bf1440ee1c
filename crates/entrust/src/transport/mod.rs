//! HTTP transport: authentication, timeouts, retries, tracing and error classification.
//!
//! Every call goes through [`Transport::send`]. It takes a slot from the rate budget before each
//! attempt, adds HTTP Basic credentials and retries calls that are safe to repeat. It records one
//! `entrust.request` span per call, with the OpenTelemetry HTTP client attributes and the W3C
//! `traceparent` header on every attempt, and turns every non-success response into an
//! [`Error`]. Resource modules only build requests and decode successful bodies.

mod classify;
mod metrics;
mod propagation;
pub(crate) mod retry;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use tracing::field;
use url::Url;

use crate::error::Error;
use crate::rate::RateBudget;
use classify::{Verdict, classify_response, classify_transport_error};
use retry::RetryPolicy;

/// Whether a call may be sent again after a failure whose effect is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeatable {
    /// Reading calls: retried on transient failures.
    Yes,
    /// Calls with effects that are not idempotent, such as placing an order: sent once, and
    /// an ambiguous failure becomes [`Error::OutcomeUnknown`].
    No,
}

/// One logical API call.
#[derive(Debug)]
pub(crate) struct Call {
    /// Endpoint template for spans, metrics and errors, for example
    /// `GET /certificates/{trackingId}`.
    pub endpoint: &'static str,
    pub method: Method,
    /// Path below the base URL, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Vec<u8>>,
    pub repeatable: Repeatable,
}

impl Call {
    /// Builds a repeatable GET without query parameters.
    pub fn get(endpoint: &'static str, path: impl Into<String>) -> Self {
        Self {
            endpoint,
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            repeatable: Repeatable::Yes,
        }
    }
}

/// A successful (2xx) response.
#[derive(Debug, Default)]
pub(crate) struct Success {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `Location` header, when present and readable.
    pub location: Option<String>,
    /// The raw `Retry-After` header, when present and readable.
    pub retry_after: Option<String>,
}

/// Sends calls to one ECS account with one credential.
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub base_url: Url,
    pub username: String,
    pub api_key: SecretString,
    pub retry: RetryPolicy,
    pub rate_budget: Option<Arc<dyn RateBudget>>,
    /// Key of the credential in `rate_budget`; never a secret.
    pub rate_key: String,
}

impl Transport {
    fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}{path}", self.base_url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// Sends `call`, retrying it within the policy when it is repeatable, and returns the
    /// successful response or the classified error.
    #[tracing::instrument(
        name = "entrust.request",
        skip_all,
        fields(
            otel.name = call.endpoint,
            otel.kind = "client",
            entrust.endpoint = call.endpoint,
            http.request.method = %call.method,
            url.path = field::Empty,
            server.address = self.base_url.host_str(),
            server.port = self.base_url.port_or_known_default(),
            http.response.status_code = field::Empty,
            entrust.attempts = field::Empty,
            entrust.latency_ms = field::Empty,
            entrust.rate_wait_ms = field::Empty,
        )
    )]
    pub async fn send(&self, call: Call) -> Result<Success, Error> {
        let span = tracing::Span::current();
        // The path only: query parameters may name accounts or filters, never a secret, but
        // the HTTP conventions keep them out of `url.path` anyway.
        span.record("url.path", self.url(&call.path).path());
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let mut rate_wait = Duration::ZERO;
        let result = loop {
            attempt += 1;
            if let Some(budget) = &self.rate_budget {
                let waiting = Instant::now();
                let acquired = budget.acquire(&self.rate_key).await;
                rate_wait += waiting.elapsed();
                if let Err(source) = acquired {
                    break Err(Error::RateBudget {
                        endpoint: call.endpoint,
                        source,
                    });
                }
            }
            let attempt_started = Instant::now();
            let verdict = self.attempt(&call).await;
            let status = verdict.status();
            if let Some(status) = status {
                span.record("http.response.status_code", status);
            }
            if status == Some(429) {
                metrics::record_rate_limited(call.endpoint);
            }
            tracing::debug!(
                attempt,
                http.response.status_code = status,
                latency_ms = elapsed_ms(attempt_started),
                "Entrust call attempt finished"
            );
            match verdict {
                Verdict::Success(success) => break Ok(success),
                Verdict::Fail(error) => break Err(error),
                Verdict::Retryable(error) => {
                    let retries_left =
                        call.repeatable == Repeatable::Yes && attempt <= self.retry.max_retries;
                    let delay = retries_left
                        .then(|| self.retry.delay(attempt, error.retry_after()))
                        .flatten();
                    let Some(delay) = delay else {
                        break Err(error);
                    };
                    tracing::info!(
                        entrust.endpoint = call.endpoint,
                        attempt,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "retrying an Entrust call after a transient failure"
                    );
                    metrics::record_retry(call.endpoint);
                    tokio::time::sleep(delay).await;
                }
            }
        };
        metrics::record_call(
            call.endpoint,
            result.as_ref().map(|_| ()),
            started.elapsed(),
        );
        span.record("entrust.attempts", attempt);
        span.record("entrust.latency_ms", elapsed_ms(started));
        if self.rate_budget.is_some() {
            span.record(
                "entrust.rate_wait_ms",
                u64::try_from(rate_wait.as_millis()).unwrap_or(u64::MAX),
            );
        }
        result
    }

    async fn attempt(&self, call: &Call) -> Verdict {
        let mut request = self
            .http
            .request(call.method.clone(), self.url(&call.path))
            .basic_auth(&self.username, Some(self.api_key.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json")
            .headers(propagation::trace_context_headers());
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return classify_transport_error(call, error),
        };
        let status = response.status();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => classify_response(call, status, &headers, body.to_vec()),
            Err(error) => classify_transport_error(call, error),
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
