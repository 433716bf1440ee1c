//! Access to Entrust: the URL policy for credentials, adapter clients for one credential, and
//! the mapping of the adapter's errors to the service's.

use std::time::Duration;

use entrust::{CertificateAuthority, ClientIdentity, EntrustClient, EntrustConfig, Error};
use secrecy::SecretString;
use url::Url;
use uuid::Uuid;

use crate::client_cache::ClientCache;
use crate::error::ServiceError;

/// Maximum time to establish a connection to Entrust, lowered to the request timeout when that
/// is shorter.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default limit on the credential check, when [`EntrustAccess::with_verify_timeout`] sets
/// none.
const DEFAULT_VERIFY_TIMEOUT: Duration = Duration::from_secs(15);

/// The URL, user name and secrets that call Entrust with one credential.
#[derive(Debug, Clone)]
pub struct EntrustTarget {
    pub api_base_url: Url,
    pub username: String,
    pub api_key: SecretString,
    pub client_identity: Option<ClientIdentity>,
}

/// Builds Entrust clients with the service's timeouts and URL policy.
#[derive(Debug, Clone)]
pub struct EntrustAccess {
    timeout: Duration,
    verify_timeout: Duration,
    allow_loopback_http: bool,
    /// Hosts a credential's API URL may name, in lower case. Empty allows every host.
    allowed_hosts: Vec<String>,
    /// Catalog clients kept between syncs; clones of this access share them.
    clients: ClientCache,
}

impl EntrustAccess {
    /// Creates the access with a per-attempt `timeout` and a credential check limited to 15 s.
    /// Plain HTTP is accepted only for loopback hosts and only when `allow_loopback_http` is
    /// set.
    pub fn new(timeout: Duration, allow_loopback_http: bool) -> Self {
        Self {
            timeout,
            verify_timeout: DEFAULT_VERIFY_TIMEOUT,
            allow_loopback_http,
            allowed_hosts: Vec::new(),
            clients: ClientCache::default(),
        }
    }

    /// Sets the limit on the single attempt of [`EntrustAccess::check`].
    pub fn with_verify_timeout(mut self, verify_timeout: Duration) -> Self {
        self.verify_timeout = verify_timeout;
        self
    }

    /// Limits credentials to API URLs on these hosts, an egress allowlist. An empty list allows
    /// every host.
    pub fn with_allowed_hosts(mut self, hosts: &[String]) -> Self {
        self.allowed_hosts = hosts.iter().map(|host| host.to_ascii_lowercase()).collect();
        self
    }

    /// Checks an API base URL against the policy: https, or http to a loopback host when
    /// allowed; a host on the allowlist when there is one; no user name, password, query or
    /// fragment.
    pub fn check_url(&self, url: &Url) -> Result<(), ServiceError> {
        let invalid = |reason: String| ServiceError::invalid("api_base_url", reason);
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if !self.allowed_hosts.is_empty() && !self.allowed_hosts.contains(&host) {
            return Err(invalid(format!(
                "the host {host:?} is not one this installation may call (allowed: {}): \
                 use one of them, or ask the operator to add it to \
                 CERTITUDE_ENTRUST_ALLOWED_HOSTS",
                self.allowed_hosts.join(", ")
            )));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback_http && is_loopback(url) => {}
            "http" if is_loopback(url) => {
                return Err(invalid(format!(
                    "{url} uses plain HTTP: use https, or allow plain HTTP to loopback hosts \
                     with CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP=true (for a local simulator)"
                )));
            }
            scheme => {
                return Err(invalid(format!(
                    "{url} uses {scheme}: use an https URL such as \
                     https://api.entrust.net/enterprise/v2"
                )));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "must not contain a user name or password: set username and api_key instead"
                    .to_owned(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(format!(
                "{url} must not have a query or fragment: give the API base URL only"
            )));
        }
        Ok(())
    }

    /// Builds a client for reading the catalog, with the adapter's default retry policy.
    pub fn client(&self, target: &EntrustTarget) -> Result<EntrustClient, Error> {
        EntrustClient::new(self.config(target))
    }

    /// Returns the catalog client of a credential, kept from an earlier call while the
    /// credential's target did not change, or built now.
    pub fn kept_client(
        &self,
        credential_id: Uuid,
        target: &EntrustTarget,
    ) -> Result<EntrustClient, Error> {
        self.clients
            .get_or_build(credential_id, target, || self.client(target))
    }

    /// Drops the kept client of a deleted credential.
    pub fn forget_client(&self, credential_id: Uuid) {
        self.clients.forget(credential_id);
    }

    /// Calls the cheapest authenticated endpoint with the credential (GET
    /// /application/version) and returns Entrust's version, or the reason the credential is
    /// unusable, naming the request field to fix.
    ///
    /// The caller waits for the response, so the call makes one attempt, limited to the verify
    /// timeout from connecting to the end of the response, and never retries. A URL that
    /// accepts connections but never responds thus fails after the verify timeout.
    pub async fn check(&self, target: &EntrustTarget) -> Result<String, ServiceError> {
        let mut config = self.config(target);
        config.timeout = self.verify_timeout;
        config.connect_timeout = self.verify_timeout;
        config.max_retries = 0;
        let client = EntrustClient::new(config).map_err(config_error)?;
        client
            .check_credentials()
            .await
            .map_err(|error| check_error(&target.api_base_url, self.verify_timeout, error))
    }

    fn config(&self, target: &EntrustTarget) -> EntrustConfig {
        let mut config = EntrustConfig::new(
            target.api_base_url.clone(),
            target.username.clone(),
            target.api_key.clone(),
        );
        config.client_identity = target.client_identity.clone();
        config.timeout = self.timeout;
        config.connect_timeout = self.timeout.min(MAX_CONNECT_TIMEOUT);
        config
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// Maps a client the adapter refused to build to the request field at fault.
fn config_error(error: Error) -> ServiceError {
    let field = match &error {
        Error::Config { field, .. } => match *field {
            "base_url" => "api_base_url",
            "username" => "username",
            "api_key" => "api_key",
            "client_identity" => "client_key_pem",
            _ => return ServiceError::Entrust(error),
        },
        _ => return ServiceError::Entrust(error),
    };
    let reason = match &error {
        Error::Config { reason, .. } => reason.clone(),
        _ => error.to_string(),
    };
    ServiceError::InvalidArgument {
        field,
        reason,
        source: Some(error),
    }
}

/// Maps a failed credential check, which waited at most `waited`, to what the caller must fix.
fn check_error(url: &Url, waited: Duration, error: Error) -> ServiceError {
    match &error {
        Error::CredentialsRejected { .. } => ServiceError::InvalidArgument {
            field: "api_key",
            reason: "Entrust rejected the user name or API key: check both, and the client \
                     certificate when the API user has one bound"
                .to_owned(),
            source: Some(error),
        },
        Error::NotFound { .. } | Error::Decode { .. } => ServiceError::InvalidArgument {
            field: "api_base_url",
            reason: format!(
                "{url} does not serve the Entrust API (no valid answer to GET \
                 /application/version): use the base URL including its version path, such as \
                 https://api.entrust.net/enterprise/v2"
            ),
            source: Some(error),
        },
        Error::PermissionDenied { .. } => ServiceError::FailedPrecondition {
            message: format!(
                "the Entrust API user may not read the API version at {url}: grant it API \
                 access in the Entrust portal"
            ),
            source: Some(error),
        },
        Error::Unavailable {
            status: None,
            source: Some(source),
            ..
        } if source.is_timeout() => ServiceError::Unavailable {
            message: format!(
                "api_base_url: Entrust at {url} did not answer within {}; check the URL, or \
                 raise CERTITUDE_ENTRUST_VERIFY_TIMEOUT when Entrust is slow to respond",
                humantime::format_duration(waited)
            ),
            source: Some(error),
        },
        Error::Unavailable {
            status: None,
            source,
            ..
        } => {
            let failure = match source {
                Some(source) if source.is_connect() => "connection failed",
                _ => "connection broken",
            };
            ServiceError::Unavailable {
                message: format!(
                    "Entrust at {url} is unreachable ({failure}): check api_base_url and the \
                     network, then retry"
                ),
                source: Some(error),
            }
        }
        Error::Unavailable {
            status: Some(status),
            ..
        } => ServiceError::Unavailable {
            message: format!("Entrust at {url} is unavailable (HTTP {status}): retry later"),
            source: Some(error),
        },
        Error::RateLimited { retry_after, .. } => {
            let wait = match retry_after {
                Some(wait) => format!("{} s", wait.as_secs()),
                None => "a few seconds".to_owned(),
            };
            ServiceError::Unavailable {
                message: format!(
                    "Entrust at {url} rate-limited the credential check (HTTP 429): retry in \
                     {wait}"
                ),
                source: Some(error),
            }
        }
        Error::UnexpectedStatus { status, .. } => ServiceError::FailedPrecondition {
            message: format!(
                "Entrust at {url} answered GET /application/version with unexpected HTTP \
                 {status}; check api_base_url"
            ),
            source: Some(error),
        },
        Error::Config { .. } => config_error(error),
        _ => ServiceError::Entrust(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(allow_loopback_http: bool) -> EntrustAccess {
        EntrustAccess::new(Duration::from_secs(5), allow_loopback_http)
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("the test URL parses")
    }

    #[test]
    fn https_url_is_accepted() {
        let result = access(false).check_url(&url("https://api.entrust.net/enterprise/v2"));

        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn loopback_http_needs_the_setting() {
        let simulator = url("http://127.0.0.1:8443/enterprise/v2");

        let rejected = access(false)
            .check_url(&simulator)
            .expect_err("http is off");
        let allowed = access(true).check_url(&simulator);

        assert!(
            rejected
                .to_string()
                .contains("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP"),
            "{rejected}"
        );
        assert!(allowed.is_ok(), "{allowed:?}");
    }

    #[test]
    fn remote_http_is_rejected_even_when_allowed() {
        let error = access(true)
            .check_url(&url("http://api.entrust.net/enterprise/v2"))
            .expect_err("plain HTTP to a remote host");

        assert!(error.to_string().starts_with("api_base_url: "), "{error}");
    }

    #[test]
    fn host_outside_the_allowlist_is_rejected() {
        let access = access(true).with_allowed_hosts(&["API.entrust.net".to_owned()]);

        let allowed = access.check_url(&url("https://api.entrust.net/enterprise/v2"));
        let rejected = access
            .check_url(&url("https://entrust.example.com/enterprise/v2"))
            .expect_err("the host is not on the list");

        assert!(allowed.is_ok(), "{allowed:?}");
        let message = rejected.to_string();
        assert!(message.starts_with("api_base_url: "), "{message}");
        assert!(message.contains("\"entrust.example.com\""), "{message}");
        assert!(
            message.contains("CERTITUDE_ENTRUST_ALLOWED_HOSTS"),
            "{message}"
        );
    }

    #[test]
    fn url_with_password_is_rejected() {
        let error = access(false)
            .check_url(&url("https://user:secret@api.entrust.net/enterprise/v2"))
            .expect_err("credentials in the URL");

        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
