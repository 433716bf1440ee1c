//! The HTTP client of the gateway's `/v1` routes.

use std::time::Duration;

use reqwest::blocking::{RequestBuilder, multipart::Form};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;
use crate::error::{ApiError, Error, Problem};
use crate::json::Json;

/// Time allowed for one request. It is longer than the gateway's own deadlines
/// (`CERTITUDE_SERVICE_TIMEOUT_SECS` and `CERTITUDE_API_REQUEST_TIMEOUT` at their defaults), so
/// the gateway's 503 or 504 response, whose detail names what to do, arrives first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of a request that the gateway rejected with 429 (rate limit of the token).
const RATE_LIMIT_RETRIES: u32 = 3;
/// Maximum pause before such a retry, even when `Retry-After` is longer.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Time allowed to open the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Characters of a non-problem error body shown in a message.
const BODY_EXCERPT_CHARS: usize = 200;

/// A request body.
pub enum Body {
    None,
    Json(serde_json::Value),
    Multipart(Form),
}

/// Calls the gateway with one token.
pub struct Client {
    http: reqwest::blocking::Client,
    base: url::Url,
    token: SecretString,
    token_source: String,
}

impl Client {
    /// Builds a client for the settings' URL and token.
    ///
    /// # Errors
    /// The missing-token error when no token is configured, or a failure to set up TLS.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        let (token, source) = settings.token()?;
        let base = url::Url::parse(&settings.url).map_err(|error| {
            Error::Failed(format!(
                "the gateway URL {} is invalid: {error}",
                settings.url
            ))
        })?;
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("certctl/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|error| {
                Error::Failed(format!("cannot set up the HTTP client: {}", chain(&error)))
            })?;
        Ok(Self {
            http,
            base,
            token: token.clone(),
            token_source: source.to_string(),
        })
    }

    /// Returns the URL of `/v1/<segments>`, each segment percent-encoded, so that an id from
    /// the command line never changes the route.
    fn endpoint(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }

    /// Sends a request and returns the body of a 2xx response.
    ///
    /// # Errors
    /// [`Error::Api`] for an error response, [`Error::Unreachable`] when the connection fails,
    /// [`Error::Transport`] for other failures such as a timeout.
    pub fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Body,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let mut request = self
            .http
            .request(method, self.endpoint(segments))
            .bearer_auth(self.token.expose_secret());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Multipart(form) => request.multipart(form),
        };
        self.execute(request)
    }

    fn execute(&self, mut request: RequestBuilder) -> Result<Vec<u8>, Error> {
        let mut retries = 0;
        let response = loop {
            // A multipart body is streamed and cannot be cloned, so its request is not retried.
            let retry = request.try_clone();
            let response = request
                .send()
                .map_err(|error| self.transport_error(&error))?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS
                && retries < RATE_LIMIT_RETRIES
                && let Some(retry) = retry
            {
                std::thread::sleep(retry_after(&response));
                retries += 1;
                request = retry;
                continue;
            }
            break response;
        };
        let status = response.status();
        let bytes = response
            .bytes()
            .map_err(|error| self.transport_error(&error))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let problem = serde_json::from_slice::<Problem>(&bytes)
            .ok()
            .filter(|problem| !problem.detail.is_empty() || !problem.title.is_empty());
        let body = if problem.is_some() {
            String::new()
        } else {
            excerpt(&String::from_utf8_lossy(&bytes))
        };
        Err(Error::Api(Box::new(ApiError {
            status: status.as_u16(),
            problem,
            body,
            token_source: self.token_source.clone(),
        })))
    }

    fn transport_error(&self, error: &reqwest::Error) -> Error {
        let url = self.base.as_str().trim_end_matches('/').to_owned();
        if error.is_connect() {
            Error::Unreachable { url }
        } else if error.is_timeout() {
            Error::Transport {
                url,
                message: format!(
                    "no response within {} s; the gateway or a service behind it may be \
                     overloaded: retry later",
                    REQUEST_TIMEOUT.as_secs()
                ),
            }
        } else {
            Error::Transport {
                url,
                message: chain(error),
            }
        }
    }

    /// Sends a request and parses the JSON response.
    ///
    /// # Errors
    /// As [`Client::send`], and [`Error::Failed`] when the response is not JSON.
    pub fn json(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Body,
        idempotency_key: Option<&str>,
    ) -> Result<Json, Error> {
        let bytes = self.send(method, segments, query, body, idempotency_key)?;
        Json::parse(&bytes).map_err(|error| {
            Error::Failed(format!(
                "the gateway's response to /v1/{} is not JSON: {error}",
                segments.join("/")
            ))
        })
    }

    /// GETs `/v1/<segments>` with a query.
    pub fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Json, Error> {
        self.json(Method::GET, segments, query, Body::None, None)
    }

    /// POSTs a JSON body to `/v1/<segments>`.
    pub fn post(&self, segments: &[&str], body: serde_json::Value) -> Result<Json, Error> {
        self.json(Method::POST, segments, &[], Body::Json(body), None)
    }

    /// DELETEs `/v1/<segments>`.
    pub fn delete(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Json, Error> {
        self.json(Method::DELETE, segments, query, Body::None, None)
    }
}

/// Returns the pause from a 429 response's `Retry-After` header (in seconds): 1 s when the
/// header is missing, at most [`MAX_RETRY_AFTER`].
fn retry_after(response: &reqwest::blocking::Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs)
        .min(MAX_RETRY_AFTER)
}

/// Returns the error and its sources joined with `: `.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Returns the first line of `body`, cut to [`BODY_EXCERPT_CHARS`] characters.
fn excerpt(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or_default();
    let mut text: String = line.chars().take(BODY_EXCERPT_CHARS).collect();
    if line.chars().count() > BODY_EXCERPT_CHARS {
        text.push('…');
    }
    text
}
