//! Generating a key pair for an order, once per idempotency key.
//!
//! A request first looks for the key stored under its idempotency key. When there is none, the
//! key pair is generated on the blocking thread pool (RSA generation takes up to seconds of CPU),
//! at most `slots` at a time, and inserted with `ON CONFLICT (idempotency_key) DO NOTHING`. When
//! two calls race, the unique index lets one row in, and the loser reads that row back and drops
//! its own key pair, so both callers get the same key id, CSR and public key.

use std::sync::Arc;

use certitude_platform::clock::SharedClock;
use certitude_platform::db::DbError;
use certitude_platform::seal::{Keyring, SealError, record_aad};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::key_store::{self, KEYS_TABLE, KeyRecord, NewKey, PRIVATE_KEY_COLUMN};
use crate::keys::{self, CsrSubject, GeneratedKeyPair, KeyAlgorithm, KeyError};

/// A validated request for a key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub idempotency_key: String,
    pub algorithm: KeyAlgorithm,
    /// The CSR subject, normalized (see [`normalize_subject`]).
    pub subject: CsrSubject,
}

/// Normalizes a CSR subject so that equal requests compare equal: names trimmed, DNS names in
/// lower case without duplicates (first occurrence kept), an empty organization dropped.
pub fn normalize_subject(
    common_name: &str,
    dns_names: &[String],
    organization: &str,
) -> CsrSubject {
    let mut names: Vec<String> = Vec::with_capacity(dns_names.len());
    for name in dns_names {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    let organization = organization.trim();
    CsrSubject {
        common_name: common_name.trim().to_owned(),
        dns_names: names,
        organization: (!organization.is_empty()).then(|| organization.to_owned()),
    }
}

/// A key pair that could not be returned.
#[derive(Debug, thiserror::Error)]
pub enum GenerateKeyError {
    /// The idempotency key already names a key made for another algorithm or subject.
    #[error(
        "idempotency key already used for key {key_id} with algorithm {algorithm} and another \
         subject or algorithm"
    )]
    ParametersDiffer { key_id: Uuid, algorithm: String },

    #[error("generating the key pair failed")]
    Generate(#[source] KeyError),

    #[error("the key generation task did not finish")]
    Task(#[source] tokio::task::JoinError),

    #[error("the key generation slots were closed")]
    SlotsClosed(#[source] tokio::sync::AcquireError),

    /// A concurrent call stored a key for the idempotency key, but it was gone when read back.
    #[error("the key stored by a concurrent call for this idempotency key was deleted; retry")]
    Vanished,

    #[error("sealing the private key of key {key_id} failed")]
    Seal {
        key_id: Uuid,
        #[source]
        source: SealError,
    },

    #[error("storing or reading key pairs failed")]
    Db(#[from] DbError),
}

/// Generates and stores key pairs, idempotently.
#[derive(Debug, Clone)]
pub struct KeyService {
    pool: PgPool,
    keyring: Keyring,
    clock: SharedClock,
    slots: Arc<Semaphore>,
}

impl KeyService {
    /// Creates a service that generates at most `slots` key pairs at once (at least one).
    pub fn new(pool: PgPool, keyring: Keyring, clock: SharedClock, slots: usize) -> Self {
        Self {
            pool,
            keyring,
            clock,
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    /// Returns the key stored for the request's idempotency key, or generates, seals and stores a
    /// new one.
    ///
    /// # Errors
    /// [`GenerateKeyError::ParametersDiffer`] when the idempotency key was used for another
    /// algorithm or subject; the other variants for generation, sealing or database failures.
    pub async fn generate_or_reuse(
        &self,
        request: &KeyRequest,
    ) -> Result<KeyRecord, GenerateKeyError> {
        if let Some(existing) =
            key_store::find_by_idempotency_key(&self.pool, &request.idempotency_key).await?
        {
            return reuse(existing, request);
        }

        let generated = self.generate(request).await?;
        let id = Uuid::now_v7();
        let aad = record_aad(KEYS_TABLE, PRIVATE_KEY_COLUMN, &id.to_string());
        let sealed = self
            .keyring
            .seal(generated.private_key_pkcs8.expose_secret(), &aad)
            .map_err(|source| GenerateKeyError::Seal { key_id: id, source })?;

        let new_key = NewKey {
            id,
            idempotency_key: &request.idempotency_key,
            algorithm: request.algorithm.as_str(),
            subject: &request.subject,
            sealed_private_key: &sealed,
            public_key_spki: &generated.public_key_spki,
            csr_pem: &generated.csr_pem,
            created_at: self.clock.now(),
        };
        if let Some(inserted) = key_store::insert_if_absent(&self.pool, &new_key).await? {
            tracing::info!(
                key.id = %inserted.id,
                key.algorithm = %inserted.algorithm,
                "generated key pair"
            );
            return Ok(inserted);
        }

        // Another call stored a key for this idempotency key between the lookup and the insert.
        let winner = key_store::find_by_idempotency_key(&self.pool, &request.idempotency_key)
            .await?
            .ok_or(GenerateKeyError::Vanished)?;
        reuse(winner, request)
    }

    /// Returns the keyring that seals and opens the stored private keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    async fn generate(&self, request: &KeyRequest) -> Result<GeneratedKeyPair, GenerateKeyError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(GenerateKeyError::SlotsClosed)?;
        let algorithm = request.algorithm;
        let subject = request.subject.clone();
        tokio::task::spawn_blocking(move || keys::generate(algorithm, &subject))
            .await
            .map_err(GenerateKeyError::Task)?
            .map_err(GenerateKeyError::Generate)
    }
}

fn reuse(record: KeyRecord, request: &KeyRequest) -> Result<KeyRecord, GenerateKeyError> {
    if record.matches(request.algorithm.as_str(), &request.subject) {
        Ok(record)
    } else {
        Err(GenerateKeyError::ParametersDiffer {
            key_id: record.id,
            algorithm: record.algorithm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_normalization_lowercases_and_drops_duplicates() {
        let names = vec![
            " WWW.Example.com ".to_owned(),
            "www.example.com".to_owned(),
            String::new(),
            "example.com".to_owned(),
        ];

        let subject = normalize_subject(" www.example.com ", &names, "  ");

        assert_eq!(subject.common_name, "www.example.com");
        assert_eq!(subject.dns_names, ["www.example.com", "example.com"]);
        assert_eq!(subject.organization, None);
    }
}
