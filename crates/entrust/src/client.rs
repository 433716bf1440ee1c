//! [`EntrustClient`]: construction from an [`EntrustConfig`] and shared decoding.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use secrecy::zeroize::Zeroizing;
use serde::de::DeserializeOwned;

use crate::config::{ClientIdentity, EntrustConfig};
use crate::error::Error;
use crate::transport::retry::RetryPolicy;
use crate::transport::{Call, Success, Transport};

/// A typed client of the ECS Enterprise REST API v2 for one credential.
///
/// Cheap to clone: clones share the connection pool. Every call sends HTTP Basic credentials,
/// is bounded by the configured timeouts, and, when it only reads, is retried on transient
/// failures. `Debug` shows the base URL and user name only.
#[derive(Clone)]
pub struct EntrustClient {
    pub(crate) transport: Arc<Transport>,
}

impl fmt::Debug for EntrustClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntrustClient")
            .field("base_url", &self.transport.base_url.as_str())
            .field("username", &self.transport.username)
            .finish_non_exhaustive()
    }
}

fn config_error(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        field,
        reason: reason.into(),
        source: None,
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

fn validate(config: &EntrustConfig) -> Result<(), Error> {
    let url = &config.base_url;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(config_error(
                "base_url",
                format!(
                    "`{url}` uses plain HTTP to a remote host, which would expose the API key: \
                     use https"
                ),
            ));
        }
        scheme => {
            return Err(config_error(
                "base_url",
                format!("has unsupported scheme `{scheme}`: use https"),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config_error(
            "base_url",
            "must not contain a user name or password: set `username` and `api_key` instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config_error(
            "base_url",
            format!("`{url}` must not have a query or fragment"),
        ));
    }
    if config.username.trim().is_empty() || config.username.contains(':') {
        return Err(config_error(
            "username",
            "must be the non-empty API user name, without `:`",
        ));
    }
    if config.api_key.expose_secret().trim().is_empty() {
        return Err(config_error("api_key", "is empty: set the API user's key"));
    }
    for (field, value) in [
        ("timeout", config.timeout),
        ("connect_timeout", config.connect_timeout),
    ] {
        if value.is_zero() {
            return Err(config_error(field, "must be greater than zero"));
        }
    }
    Ok(())
}

fn identity_error() -> Error {
    // The TLS library's messages can quote parts of the key's text, so none is kept as the
    // source.
    config_error(
        "client_identity",
        "could not be loaded: provide the certificate in PEM and its own private key in PEM \
         (PKCS#8, PKCS#1 or SEC1)",
    )
}

fn parse_identity(identity: &ClientIdentity) -> Result<reqwest::Identity, Error> {
    let mut pem = Zeroizing::new(identity.certificate_pem.trim().as_bytes().to_vec());
    pem.push(b'\n');
    pem.extend_from_slice(identity.private_key_pem.expose_secret().trim().as_bytes());
    pem.push(b'\n');
    reqwest::Identity::from_pem(&pem).map_err(|_| identity_error())
}

fn build_error(source: reqwest::Error) -> Error {
    Error::Config {
        field: "client",
        reason: "could not build the HTTP client (TLS setup failed)".to_owned(),
        source: Some(source),
    }
}

/// Creates a client builder with every setting except the client identity.
fn base_builder(config: &EntrustConfig) -> Result<reqwest::ClientBuilder, Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("certitude-entrust/", env!("CARGO_PKG_VERSION")))
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        // A redirect is never expected from the API; following one could carry the
        // credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none());
    let mut roots = Vec::new();
    for pem in &config.extra_root_certificates_pem {
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|source| {
                Error::Config {
                    field: "extra_root_certificates_pem",
                    reason: "contains a certificate that is not valid PEM".to_owned(),
                    source: Some(source),
                }
            })?;
        roots.extend(certificates);
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    Ok(builder)
}

impl EntrustClient {
    /// Builds a client from validated settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when:
    /// - the base URL is not HTTPS (plain HTTP is accepted only for a loopback host), or
    ///   carries credentials, a query or a fragment;
    /// - the user name or API key is empty, or a timeout is zero;
    /// - the client certificate, its key or an extra root certificate cannot be parsed.
    pub fn new(config: EntrustConfig) -> Result<Self, Error> {
        validate(&config)?;
        let http = match &config.client_identity {
            None => base_builder(&config)?.build().map_err(build_error)?,
            Some(identity) => {
                let identity = parse_identity(identity)?;
                match base_builder(&config)?.identity(identity).build() {
                    Ok(http) => http,
                    // Tell a key that does not load apart from a TLS setup that fails anyway.
                    Err(_) => {
                        base_builder(&config)?.build().map_err(build_error)?;
                        return Err(identity_error());
                    }
                }
            }
        };

        let rate_key = config.rate_key();
        Ok(Self {
            transport: Arc::new(Transport {
                http,
                rate_budget: config.rate_budget,
                rate_key,
                base_url: config.base_url,
                username: config.username,
                api_key: config.api_key,
                retry: RetryPolicy {
                    max_retries: config.max_retries,
                    initial_backoff: config.initial_backoff,
                    max_backoff: config.max_backoff.max(Duration::from_millis(1)),
                    max_retry_after: config.max_retry_after,
                },
            }),
        })
    }

    /// Sends a repeatable GET and decodes its JSON body.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let endpoint = call.endpoint;
        let success = self.transport.send(call).await?;
        decode(endpoint, &success)
    }
}

/// Decodes a success body; an empty body reads as `{}`, so every optional field is absent.
pub(crate) fn decode<T: DeserializeOwned>(
    endpoint: &'static str,
    success: &Success,
) -> Result<T, Error> {
    let body: &[u8] = if success.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &success.body
    };
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        endpoint,
        status: success.status,
        source,
    })
}
