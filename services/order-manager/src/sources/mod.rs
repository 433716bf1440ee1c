//! Dependencies of order-manager on other services, behind two small traits: a usable Entrust
//! credential ([`CredentialSource`]) and a key pair with its CSR ([`KeySource`]).
//!
//! [`start`](crate::start) uses the gRPC implementations in [`grpc`]; tests and embedders pass
//! their own to [`start_with_sources`](crate::start_with_sources).

pub mod grpc;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use certitude_proto::credential::v1::{GetOrderingCatalogRequest, OrderingCatalog};
use certitude_proto::inventory::v1::KeyAlgorithm;
use entrust::CertificateAuthority;

pub use grpc::{GrpcCredentialSource, GrpcKeySource};

/// Resolves a credential id into the certificate authority account it reaches.
#[async_trait]
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// Returns the authority for `credential_id`. Fails with
    /// [`SourceError::CredentialNotFound`] for an unknown id.
    async fn authority(
        &self,
        credential_id: &str,
    ) -> Result<Arc<dyn CertificateAuthority>, SourceError>;

    /// Returns the authority for `credential_id` with what the credential store records about
    /// its administrator rights. The default resolves [`authority`] and reports no
    /// administrator right, so a source that keeps no such record never allows administrator
    /// operations.
    ///
    /// [`authority`]: CredentialSource::authority
    async fn resolve(&self, credential_id: &str) -> Result<ResolvedAuthority, SourceError> {
        Ok(ResolvedAuthority {
            authority: self.authority(credential_id).await?,
            administrator: AdministratorRight::default(),
        })
    }

    /// Records in the credential store that Entrust rejected `action` (such as "approve order
    /// 12345") with HTTP 403, so the credential reads as lacking administrator rights. The
    /// default does nothing, for sources without a store.
    async fn report_permission_denied(
        &self,
        credential_id: &str,
        action: &str,
    ) -> Result<(), SourceError> {
        let _ = (credential_id, action);
        Ok(())
    }

    /// Returns the synced catalog entries of the credential's account that bear on an order:
    /// the domains covering its names, its organization, and its product with the FLEX pool.
    /// The default fails, so that a source without a catalog never lets an unchecked order
    /// through.
    async fn ordering_catalog(
        &self,
        request: GetOrderingCatalogRequest,
    ) -> Result<OrderingCatalog, SourceError> {
        Err(SourceError::Rejected {
            service: "credential source",
            message: format!(
                "no catalog is available for credential {}, so new orders cannot be checked",
                request.credential_id
            ),
        })
    }

    /// Drops what this source cached for `credential_id`, so the next [`authority`] call
    /// resolves the credential again. Called when the credential was updated or removed; a
    /// source without a cache keeps the default, which does nothing.
    ///
    /// [`authority`]: CredentialSource::authority
    fn forget(&self, credential_id: &str) {
        let _ = credential_id;
    }
}

/// A resolved credential: the authority it reaches and its administrator rights.
#[derive(Debug, Clone)]
pub struct ResolvedAuthority {
    pub authority: Arc<dyn CertificateAuthority>,
    pub administrator: AdministratorRight,
}

/// What the credential store records about a credential's administrator rights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdministratorRight {
    /// The credential's Entrust user is marked as an administrator.
    pub is_administrator: bool,
    /// Entrust rejected an administrator action with the credential (HTTP 403) since
    /// `is_administrator` was last set.
    pub lacks_administrator_right: bool,
    /// When Entrust first rejected one (RFC 3339) and the rejected action; empty unless
    /// `lacks_administrator_right`.
    pub missing_since: String,
    pub denied_action: String,
}

impl AdministratorRight {
    /// Tells whether the credential may be used for administrator operations.
    pub fn usable(&self) -> bool {
        self.is_administrator && !self.lacks_administrator_right
    }
}

/// Generates the key pair and CSR of an order, idempotently per idempotency key.
#[async_trait]
pub trait KeySource: Send + Sync + fmt::Debug {
    /// Returns a key pair for `request`: the same one again when its idempotency key was seen
    /// before.
    async fn generate_key(&self, request: &KeyRequest) -> Result<GeneratedKey, SourceError>;
}

/// What a key pair and its CSR are generated for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// The order's idempotency key, so a repeated request gets the same key pair.
    pub idempotency_key: String,
    pub algorithm: KeyAlgorithm,
    pub common_name: String,
    /// DNS names for the CSR's subject alternative names, the common name among them.
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
}

/// A key pair held by the key source: its id, its CSR and its public key. The private key
/// never leaves the key source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub key_id: String,
    pub csr_pem: String,
    /// SubjectPublicKeyInfo in DER.
    pub public_key_spki: Vec<u8>,
}

/// A failed call to another service.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The credential id names no credential.
    #[error("credential {0} not found: list the credentials to find its id")]
    CredentialNotFound(String),

    /// The credential exists but cannot be turned into a client (such as a malformed URL).
    #[error("credential {credential_id} cannot be used: {reason}")]
    UnusableCredential {
        credential_id: String,
        reason: String,
        #[source]
        source: Option<entrust::Error>,
    },

    /// The other service rejected the request as invalid or not possible now.
    #[error("{service} rejected the request: {message}")]
    Rejected {
        service: &'static str,
        message: String,
    },

    /// The other service could not be reached or did not respond in time.
    #[error("{service} is unavailable; retry later")]
    Unavailable {
        service: &'static str,
        #[source]
        source: tonic::Status,
    },

    /// Any other failure of the call.
    #[error("the call to {service} failed")]
    Failed {
        service: &'static str,
        #[source]
        source: tonic::Status,
    },
}

/// Names of the key algorithms, as requests and the database spell them (`ECDSA_P256`).
const KEY_ALGORITHM_PREFIX: &str = "KEY_ALGORITHM_";

/// Parses a key algorithm name such as `ECDSA_P256` or `rsa_2048`, ignoring case.
pub fn parse_key_algorithm(name: &str) -> Option<KeyAlgorithm> {
    let full = format!("{KEY_ALGORITHM_PREFIX}{}", name.trim().to_ascii_uppercase());
    KeyAlgorithm::from_str_name(&full).filter(|algorithm| *algorithm != KeyAlgorithm::Unspecified)
}

/// Returns the name of a key algorithm without the protobuf prefix, such as `ECDSA_P256`.
pub fn key_algorithm_name(algorithm: KeyAlgorithm) -> &'static str {
    let full = algorithm.as_str_name();
    full.strip_prefix(KEY_ALGORITHM_PREFIX).unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithm_names_parse_without_case() {
        assert_eq!(
            parse_key_algorithm("ecdsa_p256"),
            Some(KeyAlgorithm::EcdsaP256)
        );
        assert_eq!(parse_key_algorithm("RSA_4096"), Some(KeyAlgorithm::Rsa4096));
        assert_eq!(parse_key_algorithm("UNSPECIFIED"), None);
        assert_eq!(parse_key_algorithm("DSA_1024"), None);
    }

    #[test]
    fn key_algorithm_name_drops_prefix() {
        assert_eq!(key_algorithm_name(KeyAlgorithm::EcdsaP384), "ECDSA_P384");
    }
}
