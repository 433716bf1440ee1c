//! Dependencies of order-manager on other services, behind two small traits: a usable Entrust
//! credential ([`CredentialSource`]) and a key pair with its CSR ([`KeySource`]).
//!
//! [`start`](crate::start) uses the gRPC implementations in [`grpc`]; tests and embedders pass
//! their own to [`start_with_sources`](crate::start_with_sources).

pub mod grpc;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
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

    /// Drops what this source cached for `credential_id`, so the next [`authority`] call
    /// resolves the credential again. Called when the credential was updated or removed; a
    /// source without a cache keeps the default, which does nothing.
    ///
    /// [`authority`]: CredentialSource::authority
    fn forget(&self, credential_id: &str) {
        let _ = credential_id;
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
