//! Connection settings of an [`EntrustClient`](crate::EntrustClient).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::rate::RateBudget;

/// The production ECS Enterprise API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.entrust.net/enterprise/v2";

/// A TLS client certificate bound to the API user, for accounts that require mutual TLS.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The client certificate in PEM, optionally followed by its intermediates.
    pub certificate_pem: String,
    /// The private key in PEM (PKCS#8, PKCS#1 or SEC1).
    pub private_key_pem: SecretString,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field(
                "certificate_pem",
                &format_args!("<{} bytes>", self.certificate_pem.len()),
            )
            .field("private_key_pem", &"[REDACTED]")
            .finish()
    }
}

/// Settings for one Entrust API credential.
///
/// `Debug` shows no secret: the API key and the client key print as `[REDACTED]`.
#[derive(Clone)]
pub struct EntrustConfig {
    /// API base URL including the version path, for example
    /// `https://api.entrust.net/enterprise/v2`. It must not carry a user name or password.
    pub base_url: Url,
    /// API user name (HTTP Basic user).
    pub username: String,
    /// API key (HTTP Basic password).
    pub api_key: SecretString,
    /// Client certificate and key, when the API user has one bound.
    pub client_identity: Option<ClientIdentity>,
    /// Extra trusted root certificates in PEM, beside the platform's, for example a test CA.
    pub extra_root_certificates_pem: Vec<String>,
    /// Limit on one HTTP attempt, from connecting to the end of the response body.
    pub timeout: Duration,
    /// Limit on establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// How many times a call that is safe to repeat (a GET) is retried after a transient
    /// failure. Placing an order is never retried.
    pub max_retries: u32,
    /// Delay before the first retry; each further retry doubles it, with random jitter.
    pub initial_backoff: Duration,
    /// Upper bound on the delay between two retries.
    pub max_backoff: Duration,
    /// Longest `Retry-After` the client waits for; a longer request is returned to the caller
    /// as an error carrying the wait.
    pub max_retry_after: Duration,
    /// Budget every HTTP attempt (retries included) takes a slot from before it is sent, so
    /// the credential stays under Entrust's quota. `None` sends without a budget. Share one
    /// budget between every client of the credential; for several replicas use a shared store
    /// such as `PostgresRateBudget`.
    pub rate_budget: Option<Arc<dyn RateBudget>>,
    /// Key of this credential in [`EntrustConfig::rate_budget`]. `None` uses the base URL and
    /// the user name (`https://api.entrust.net/enterprise/v2 api-user`). Set it, for example to
    /// a credential id, when the same API user is reached through different URLs.
    pub rate_budget_key: Option<String>,
}

impl EntrustConfig {
    /// Creates settings with the default timeouts and retry policy.
    ///
    /// Defaults: 60 s per attempt (Entrust is sometimes slow to respond), 10 s to connect, 3
    /// retries starting at 500 ms and capped at 30 s, and waits of at most 60 s for
    /// `Retry-After`.
    pub fn new(base_url: Url, username: impl Into<String>, api_key: SecretString) -> Self {
        Self {
            base_url,
            username: username.into(),
            api_key,
            client_identity: None,
            extra_root_certificates_pem: Vec::new(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            rate_budget: None,
            rate_budget_key: None,
        }
    }

    /// Returns the key of this credential in the rate budget.
    pub fn rate_key(&self) -> String {
        match &self.rate_budget_key {
            Some(key) => key.clone(),
            None => format!(
                "{} {}",
                self.base_url.as_str().trim_end_matches('/'),
                self.username
            ),
        }
    }
}

impl fmt::Debug for EntrustConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntrustConfig")
            .field("base_url", &self.base_url.as_str())
            .field("username", &self.username)
            .field("api_key", &"[REDACTED]")
            .field("client_identity", &self.client_identity)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates_pem.len(),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_retry_after", &self.max_retry_after)
            .field("rate_budget", &self.rate_budget)
            .field("rate_budget_key", &self.rate_budget_key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_redacts_api_key_and_client_key() -> Result<(), url::ParseError> {
        let mut config = EntrustConfig::new(
            Url::parse(DEFAULT_BASE_URL)?,
            "api-user",
            SecretString::from("key-0123456789abcdef"),
        );
        config.client_identity = Some(ClientIdentity {
            certificate_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                .to_owned(),
            private_key_pem: SecretString::from(
                "-----BEGIN PRIVATE KEY-----\nsecret-key-body\n-----END PRIVATE KEY-----\n",
            ),
        });

        let debug = format!("{config:?}");

        assert!(!debug.contains("key-0123456789abcdef"), "{debug}");
        assert!(!debug.contains("secret-key-body"), "{debug}");
        assert!(debug.contains("api-user"), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
        Ok(())
    }
}
