//! Exporting a stored certificate as PEM or PKCS#12.
//!
//! The stored certificate and its stored issuers are ordered into a chain by
//! `certitude-certfile`, which also writes the PEM and PKCS#12 output. A private key leaves the
//! inventory only here: it is opened from its sealed column, written out, and the export is
//! recorded in `key_exports` before the output is returned. If that record cannot be written,
//! nothing is returned.

use certitude_certfile::{self as certfile, CertfileError, Pkcs12Encryption, PrivateKey};
use certitude_platform::clock::SharedClock;
use certitude_platform::db::DbError;
use certitude_platform::seal::{Keyring, SealError, record_aad};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use crate::certificate::{self, CertificateError};
use crate::certificate_store::{self, CertificateRecord};
use crate::files::store::{self, KeyExport};
use crate::key_store::{KEYS_TABLE, PRIVATE_KEY_COLUMN};

/// Media type of PEM certificates (RFC 8555, section 9.1).
pub const PEM_CERTIFICATES_MEDIA_TYPE: &str = "application/pem-certificate-chain";
/// Media type of a PEM private key; no registered type exists for it.
pub const PEM_KEY_MEDIA_TYPE: &str = "application/x-pem-file";
/// Media type of a PKCS#12 file (RFC 7292, appendix D).
pub const PKCS12_MEDIA_TYPE: &str = "application/pkcs12";

/// Part of a certificate that a PEM export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemSelection {
    /// The certificate alone.
    Leaf,
    /// Its issuers without a self-signed root.
    Chain,
    /// The certificate and its issuers, without a self-signed root.
    FullChain,
    /// The private key as unencrypted PKCS#8.
    Key,
}

/// Content of an export.
#[derive(Debug)]
pub enum ExportRequest {
    Pem(PemSelection),
    /// The certificate, its issuers and its key in a PKCS#12 file protected by `password`.
    Pkcs12 {
        password: SecretString,
        encryption: Pkcs12Encryption,
    },
}

impl ExportRequest {
    /// Returns whether the export contains the private key.
    pub fn includes_key(&self) -> bool {
        matches!(
            self,
            ExportRequest::Pem(PemSelection::Key) | ExportRequest::Pkcs12 { .. }
        )
    }
}

/// An exported file.
pub struct ExportedFile {
    pub content: Vec<u8>,
    pub media_type: &'static str,
    /// Suggested file name, such as `<id>.fullchain.pem`.
    pub file_name: String,
    /// The exported key, for key exports.
    pub key_id: Option<Uuid>,
}

impl std::fmt::Debug for ExportedFile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ExportedFile")
            .field("content_len", &self.content.len())
            .field("media_type", &self.media_type)
            .field("file_name", &self.file_name)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// An export that failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("certificate {0} not found")]
    NotFound(Uuid),

    #[error(
        "certificate {0} has no private key in the inventory: only keys that the inventory \
         generated or imported with the certificate can be exported"
    )]
    NoKey(Uuid),

    #[error("the stored certificate {certificate_id} or one of its issuers does not parse")]
    StoredCertificate {
        certificate_id: Uuid,
        #[source]
        source: CertificateError,
    },

    #[error("the stored chain of certificate {certificate_id} cannot be read")]
    StoredChain {
        certificate_id: Uuid,
        #[source]
        source: CertfileError,
    },

    #[error("the stored chain of certificate {certificate_id} orders to another certificate")]
    ChainLeaf { certificate_id: Uuid },

    #[error("opening the sealed private key {key_id} failed")]
    Seal {
        key_id: Uuid,
        #[source]
        source: SealError,
    },

    #[error("the stored private key {key_id} is not a valid PKCS#8 key")]
    StoredKey {
        key_id: Uuid,
        #[source]
        source: CertfileError,
    },

    #[error("writing the PKCS#12 file of certificate {certificate_id} failed")]
    Pkcs12 {
        certificate_id: Uuid,
        #[source]
        source: CertfileError,
    },

    #[error("the export task did not finish")]
    Task(#[source] tokio::task::JoinError),

    #[error("reading the certificate or recording the key export failed")]
    Db(#[from] DbError),
}

/// Exports stored certificates and, audited, their private keys.
#[derive(Debug, Clone)]
pub struct Exporter {
    pool: PgPool,
    keyring: Keyring,
    clock: SharedClock,
}

impl Exporter {
    pub fn new(pool: PgPool, keyring: Keyring, clock: SharedClock) -> Self {
        Self {
            pool,
            keyring,
            clock,
        }
    }

    /// Exports certificate `certificate_id` in the form that `request` selects. A key export needs `actor`, the
    /// name stored in its audit row.
    ///
    /// # Errors
    /// [`ExportError::NotFound`] and [`ExportError::NoKey`] for requests that cannot be served;
    /// the other variants for stored data that cannot be read and database failures.
    pub async fn export(
        &self,
        certificate_id: Uuid,
        request: ExportRequest,
        actor: &str,
    ) -> Result<ExportedFile, ExportError> {
        let record = certificate_store::get(&self.pool, certificate_id)
            .await?
            .ok_or(ExportError::NotFound(certificate_id))?;
        let chain = stored_chain(&record)?;
        match request {
            ExportRequest::Pem(PemSelection::Key) => {
                let key_id = record.key_id.ok_or(ExportError::NoKey(certificate_id))?;
                let key = self.open_key(key_id).await?;
                let text = certfile::export_key_pem(&key);
                let content = text.expose_secret().as_bytes().to_vec();
                self.record_key_export(&record, key_id, actor, "pem", None)
                    .await?;
                Ok(ExportedFile {
                    content,
                    media_type: PEM_KEY_MEDIA_TYPE,
                    file_name: format!("{certificate_id}.key.pem"),
                    key_id: Some(key_id),
                })
            }
            ExportRequest::Pem(selection) => {
                let (part, suffix) = match selection {
                    PemSelection::Leaf => (certfile::PemPart::Leaf, "cert"),
                    PemSelection::Chain => (certfile::PemPart::Chain, "chain"),
                    _ => (certfile::PemPart::FullChain, "fullchain"),
                };
                Ok(ExportedFile {
                    content: certfile::export_pem(&chain, part).into_bytes(),
                    media_type: PEM_CERTIFICATES_MEDIA_TYPE,
                    file_name: format!("{certificate_id}.{suffix}.pem"),
                    key_id: None,
                })
            }
            ExportRequest::Pkcs12 {
                password,
                encryption,
            } => {
                let key_id = record.key_id.ok_or(ExportError::NoKey(certificate_id))?;
                let key = self.open_key(key_id).await?;
                // Key derivation and MAC take 10,000 iterations each, so this runs off the
                // async workers.
                let content = tokio::task::spawn_blocking(move || {
                    certfile::export_pkcs12(&chain, &key, &password, encryption)
                })
                .await
                .map_err(ExportError::Task)?
                .map_err(|source| ExportError::Pkcs12 {
                    certificate_id,
                    source,
                })?;
                let encryption_name = match encryption {
                    Pkcs12Encryption::Legacy3Des => "3des",
                    _ => "aes256",
                };
                self.record_key_export(&record, key_id, actor, "pkcs12", Some(encryption_name))
                    .await?;
                Ok(ExportedFile {
                    content,
                    media_type: PKCS12_MEDIA_TYPE,
                    file_name: format!("{certificate_id}.p12"),
                    key_id: Some(key_id),
                })
            }
        }
    }

    async fn open_key(&self, key_id: Uuid) -> Result<PrivateKey, ExportError> {
        let sealed = store::sealed_private_key(&self.pool, key_id)
            .await?
            .ok_or(ExportError::NoKey(key_id))?;
        let aad = record_aad(KEYS_TABLE, PRIVATE_KEY_COLUMN, &key_id.to_string());
        let pkcs8 = self
            .keyring
            .open(&sealed, &aad)
            .map_err(|source| ExportError::Seal { key_id, source })?;
        PrivateKey::from_pkcs8_der(pkcs8.expose_secret())
            .map_err(|source| ExportError::StoredKey { key_id, source })
    }

    async fn record_key_export(
        &self,
        record: &CertificateRecord,
        key_id: Uuid,
        actor: &str,
        format: &'static str,
        encryption: Option<&'static str>,
    ) -> Result<(), ExportError> {
        let export = KeyExport {
            certificate_id: record.id,
            key_id,
            actor,
            format,
            encryption,
            exported_at: self.clock.now(),
        };
        let audit_id = store::insert_key_export(&self.pool, &export).await?;
        tracing::info!(
            certificate.id = %record.id,
            key.id = %key_id,
            actor = %actor,
            export.format = format,
            export.encryption = encryption.unwrap_or("none"),
            audit.id = %audit_id,
            "exported a private key"
        );
        Ok(())
    }
}

/// Orders the stored certificate and its stored issuers into a chain that starts at the
/// certificate.
fn stored_chain(record: &CertificateRecord) -> Result<certfile::Chain, ExportError> {
    let certificate_id = record.id;
    let stored_error = |source| ExportError::StoredCertificate {
        certificate_id,
        source,
    };
    let chain_error = |source| ExportError::StoredChain {
        certificate_id,
        source,
    };
    let mut certificates = Vec::with_capacity(record.chain_pem.len() + 1);
    for pem_text in std::iter::once(&record.certificate_pem).chain(&record.chain_pem) {
        let der = certificate::pem_to_der(pem_text).map_err(stored_error)?;
        certificates.push(certfile::parse_certificate(&der).map_err(chain_error)?);
    }
    let chain = certfile::order_chain(certificates).map_err(chain_error)?;
    if chain.leaf().sha256_fingerprint != record.sha256_fingerprint {
        return Err(ExportError::ChainLeaf { certificate_id });
    }
    Ok(chain)
}
