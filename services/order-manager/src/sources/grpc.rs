//! The gRPC implementations of the sources: credential-sync's `ResolveCredential` and
//! `ReportPermissionDenied`, and inventory's `GenerateKey`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use certitude_platform::grpc::{TracedChannel, traced};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{
    Credential, GetOrderingCatalogRequest, OrderingCatalog, ReportPermissionDeniedRequest,
    ResolveCredentialRequest, ResolvedCredential,
};
use certitude_proto::inventory::v1::GenerateKeyRequest;
use certitude_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use entrust::{CertificateAuthority, ClientIdentity, EntrustClient, EntrustConfig, SecretString};
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;

use super::{
    AdministratorRight, CredentialSource, GeneratedKey, KeyRequest, KeySource, ResolvedAuthority,
    SourceError,
};

const CREDENTIAL_SYNC: &str = "credential-sync";
const INVENTORY: &str = "inventory";

/// Resolves credentials through credential-sync and keeps each resulting client for a while,
/// so that not every Entrust call costs a call to credential-sync.
#[derive(Debug)]
pub struct GrpcCredentialSource {
    client: CredentialServiceClient<TracedChannel>,
    entrust_timeout: Duration,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, CachedAuthority>>,
    /// Count of [`CredentialSource::forget`] calls. A client resolved while it changed may
    /// predate the update that caused the call, so it is not cached.
    forgotten: AtomicU64,
}

#[derive(Debug)]
struct CachedAuthority {
    resolved: ResolvedAuthority,
    fetched_at: Instant,
}

impl GrpcCredentialSource {
    /// Creates a source that calls credential-sync over `channel`. Each Entrust client it
    /// builds limits one HTTP attempt to `entrust_timeout`; a resolved credential is reused
    /// for `cache_ttl`.
    pub fn new(channel: Channel, entrust_timeout: Duration, cache_ttl: Duration) -> Self {
        Self {
            client: CredentialServiceClient::new(traced(channel)),
            entrust_timeout,
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
            forgotten: AtomicU64::new(0),
        }
    }

    fn cached(&self, credential_id: &str) -> Option<ResolvedAuthority> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(credential_id)
            .filter(|entry| entry.fetched_at.elapsed() < self.cache_ttl)
            .map(|entry| entry.resolved.clone())
    }

    /// Caches `resolved` unless a credential was forgotten since `forgotten` was read.
    fn remember(&self, credential_id: &str, resolved: ResolvedAuthority, forgotten: u64) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if self.forgotten.load(Ordering::SeqCst) != forgotten {
            return;
        }
        cache.insert(
            credential_id.to_owned(),
            CachedAuthority {
                resolved,
                fetched_at: Instant::now(),
            },
        );
    }

    async fn resolve(&self, credential_id: &str) -> Result<ResolvedCredential, SourceError> {
        let request = ResolveCredentialRequest {
            id: credential_id.to_owned(),
        };
        // The response contains the API key: it is never logged or formatted.
        match self.client.clone().resolve_credential(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if status.code() == Code::NotFound => {
                Err(SourceError::CredentialNotFound(credential_id.to_owned()))
            }
            Err(status) => Err(classify(CREDENTIAL_SYNC, status)),
        }
    }
}

#[async_trait]
impl CredentialSource for GrpcCredentialSource {
    async fn authority(
        &self,
        credential_id: &str,
    ) -> Result<Arc<dyn CertificateAuthority>, SourceError> {
        Ok(CredentialSource::resolve(self, credential_id)
            .await?
            .authority)
    }

    async fn resolve(&self, credential_id: &str) -> Result<ResolvedAuthority, SourceError> {
        if let Some(resolved) = self.cached(credential_id) {
            return Ok(resolved);
        }
        let forgotten = self.forgotten.load(Ordering::SeqCst);
        let credential = GrpcCredentialSource::resolve(self, credential_id).await?;
        let administrator = credential
            .credential
            .as_ref()
            .map(administrator_right)
            .unwrap_or_default();
        let client = entrust_client(credential_id, credential, self.entrust_timeout)?;
        let resolved = ResolvedAuthority {
            authority: Arc::new(client),
            administrator,
        };
        self.remember(credential_id, resolved.clone(), forgotten);
        Ok(resolved)
    }

    async fn report_permission_denied(
        &self,
        credential_id: &str,
        action: &str,
    ) -> Result<(), SourceError> {
        let request = ReportPermissionDeniedRequest {
            credential_id: credential_id.to_owned(),
            action: action.chars().take(200).collect(),
        };
        let result = self.client.clone().report_permission_denied(request).await;
        // The cached copy still reads the old flags; the next call resolves it again.
        self.forget(credential_id);
        match result {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::NotFound => {
                Err(SourceError::CredentialNotFound(credential_id.to_owned()))
            }
            Err(status) => Err(classify(CREDENTIAL_SYNC, status)),
        }
    }

    async fn ordering_catalog(
        &self,
        request: GetOrderingCatalogRequest,
    ) -> Result<OrderingCatalog, SourceError> {
        let credential_id = request.credential_id.clone();
        match self.client.clone().get_ordering_catalog(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if status.code() == Code::NotFound => {
                Err(SourceError::CredentialNotFound(credential_id))
            }
            Err(status) => Err(classify(CREDENTIAL_SYNC, status)),
        }
    }

    fn forget(&self, credential_id: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        cache.remove(credential_id);
    }
}

/// Reads the administrator flags of a credential as credential-sync lists it.
fn administrator_right(credential: &Credential) -> AdministratorRight {
    AdministratorRight {
        is_administrator: credential.is_administrator,
        lacks_administrator_right: credential.lacks_administrator_right,
        missing_since: credential.administrator_right_missing_since.clone(),
        denied_action: credential.denied_administrator_action.clone(),
    }
}

/// Builds an Entrust client from a resolved credential, consuming its secrets.
fn entrust_client(
    credential_id: &str,
    resolved: ResolvedCredential,
    timeout: Duration,
) -> Result<EntrustClient, SourceError> {
    let unusable =
        |reason: String, source: Option<entrust::Error>| SourceError::UnusableCredential {
            credential_id: credential_id.to_owned(),
            reason,
            source,
        };
    let credential = resolved.credential.ok_or_else(|| {
        unusable(
            "credential-sync returned no credential details".into(),
            None,
        )
    })?;
    let base_url = url::Url::parse(&credential.api_base_url)
        .map_err(|error| unusable(format!("its API base URL is invalid ({error})"), None))?;

    let mut config = EntrustConfig::new(
        base_url,
        credential.username,
        SecretString::from(resolved.api_key),
    );
    config.timeout = timeout;
    if !resolved.client_certificate_pem.is_empty() {
        config.client_identity = Some(ClientIdentity {
            certificate_pem: resolved.client_certificate_pem,
            private_key_pem: SecretString::from(resolved.client_key_pem),
        });
    }
    EntrustClient::new(config).map_err(|error| {
        unusable(
            "its Entrust client settings are invalid".into(),
            Some(error),
        )
    })
}

/// Generates keys through inventory's `GenerateKey`.
#[derive(Debug, Clone)]
pub struct GrpcKeySource {
    client: InventoryServiceClient<TracedChannel>,
}

impl GrpcKeySource {
    /// Creates a source that calls inventory over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            client: InventoryServiceClient::new(traced(channel)),
        }
    }
}

#[async_trait]
impl KeySource for GrpcKeySource {
    async fn generate_key(&self, request: &KeyRequest) -> Result<GeneratedKey, SourceError> {
        let message = GenerateKeyRequest {
            idempotency_key: request.idempotency_key.clone(),
            algorithm: request.algorithm.into(),
            common_name: request.common_name.clone(),
            dns_names: request.dns_names.clone(),
            organization: request.organization.clone().unwrap_or_default(),
        };
        let generated = self
            .client
            .clone()
            .generate_key(message)
            .await
            .map_err(|status| classify(INVENTORY, status))?
            .into_inner();
        Ok(GeneratedKey {
            key_id: generated.key_id,
            csr_pem: generated.csr_pem,
            public_key_spki: generated.public_key_der,
        })
    }
}

/// Sorts a failed call by what the caller can do about it.
fn classify(service: &'static str, status: tonic::Status) -> SourceError {
    match status.code() {
        Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists => {
            SourceError::Rejected {
                service,
                message: status.message().to_owned(),
            }
        }
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => {
            SourceError::Unavailable {
                service,
                source: status,
            }
        }
        _ => SourceError::Failed {
            service,
            source: status,
        },
    }
}

#[cfg(test)]
mod tests {
    use certitude_proto::credential::v1::Credential;

    use super::*;

    fn resolved(api_base_url: &str) -> ResolvedCredential {
        ResolvedCredential {
            credential: Some(Credential {
                id: "credential-1".into(),
                api_base_url: api_base_url.into(),
                username: "demo-admin".into(),
                ..Credential::default()
            }),
            api_key: "key-that-must-stay-hidden".into(),
            ..ResolvedCredential::default()
        }
    }

    #[test]
    fn resolved_credential_builds_a_client() {
        let client = entrust_client(
            "credential-1",
            resolved("http://127.0.0.1:8443/enterprise/v2"),
            Duration::from_secs(5),
        )
        .expect("a loopback URL with a user and key is usable");

        let debug = format!("{client:?}");
        assert!(!debug.contains("key-that-must-stay-hidden"), "{debug}");
    }

    #[test]
    fn invalid_base_url_names_the_credential() {
        let error = entrust_client(
            "credential-1",
            resolved("not a url"),
            Duration::from_secs(5),
        )
        .expect_err("the URL does not parse");

        let message = error.to_string();
        assert!(message.contains("credential-1"), "{message}");
        assert!(message.contains("API base URL"), "{message}");
    }

    #[test]
    fn unavailable_status_is_transient() {
        let error = classify(INVENTORY, tonic::Status::unavailable("connection refused"));

        assert!(matches!(error, SourceError::Unavailable { .. }));
    }

    #[test]
    fn failed_precondition_keeps_the_message() {
        let error = classify(
            INVENTORY,
            tonic::Status::failed_precondition("key reused with another algorithm"),
        );

        assert!(
            error
                .to_string()
                .contains("key reused with another algorithm"),
            "{error}"
        );
    }
}
