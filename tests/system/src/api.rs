//! A small REST client of the gateway for system tests.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Calls the gateway's `/v1` routes as one token.
#[derive(Debug, Clone)]
pub struct Api {
    base_url: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base_url: &str, token: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request and returns the status and the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("request to {path}"))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{path} returned a body that is not JSON"))?
        };
        Ok((status, value))
    }

    /// GETs `path` and fails unless the status is 200.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.call(Method::GET, path, None, None).await?;
        if status != StatusCode::OK {
            bail!("GET {path} returned {status}: {body}");
        }
        Ok(body)
    }

    /// POSTs `body` to `path` and returns the status and the JSON body.
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::POST, path, Some(body), None).await
    }

    /// GETs `path` until it returns 200 with a body for which `done` holds, for at most
    /// `timeout`. A 404 counts as not there yet.
    pub async fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, body) = self.call(Method::GET, path, None, None).await?;
            match status {
                StatusCode::OK if done(&body) => return Ok(body),
                StatusCode::OK | StatusCode::NOT_FOUND => {}
                _ => bail!("GET {path} returned {status}: {body}"),
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{path} did not reach the expected state within {timeout:?}: {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Follows `next_cursor` through every page of a list route and returns all items.
    pub async fn all_pages(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(cursor) => format!("{path}{separator}limit=100&cursor={cursor}"),
                None => format!("{path}{separator}limit=100"),
            };
            let page = self.get(&page_path).await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }
}
