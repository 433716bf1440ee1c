//! Importing certificate files into the inventory.
//!
//! An import has two steps:
//!
//! 1. On the blocking thread pool, every file is read with `certitude-certfile` (format
//!    detected from content). Each certificate gets as chain the other certificates of the same
//!    file that issued it, nearest first, with the chain status of their signatures. Each
//!    private key is matched to the certificates of its file and sealed.
//! 2. In one transaction, which first locks the license row so imports take turns, each file
//!    is stored under its own savepoint. Matched keys are stored (or found, when the inventory
//!    holds that key already), then each certificate goes through
//!    [`Lifecycle::store`](crate::lifecycle::Lifecycle::store) with source `import`: held or
//!    waiting under the license, or a duplicate when its SHA-256 fingerprint is stored already.
//!    A duplicate without a key gets the file's matching key linked.
//!
//! A file that cannot be read, or whose savepoint fails, reports its error and the other files
//! import. Only a failure of the whole transaction, such as a lost database connection, fails
//! the request.

use certitude_certfile::FileFormat;
use certitude_platform::clock::SharedClock;
use certitude_platform::seal::Keyring;
use secrecy::SecretString;
use sqlx::{Connection, PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::files::prepare::{PreparedFile, prepare_files};
use crate::files::store;
use crate::license;
use crate::lifecycle::{Lifecycle, LifecycleError, StoreOutcome};

/// A file to import.
#[derive(Clone)]
pub struct UploadedFile {
    /// Name for the report only.
    pub name: String,
    pub content: Vec<u8>,
}

impl std::fmt::Debug for UploadedFile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UploadedFile")
            .field("name", &self.name)
            .field("content_len", &self.content.len())
            .finish()
    }
}

/// Outcome of storing one certificate of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Stored and held.
    Added,
    /// Stored beyond the licensed count.
    Waiting,
    /// Stored before under another id; nothing was written.
    Duplicate,
}

impl ImportOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportOutcome::Added => "added",
            ImportOutcome::Waiting => "waiting",
            ImportOutcome::Duplicate => "duplicate",
        }
    }
}

/// One certificate of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedCertificate {
    /// The stored certificate; for a duplicate, the one stored before.
    pub certificate_id: Uuid,
    pub subject: String,
    pub serial_number: String,
    pub sha256_fingerprint: String,
    pub outcome: ImportOutcome,
    pub key_id: Option<Uuid>,
}

/// The result of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub name: String,
    pub format: Option<FileFormat>,
    /// Reason nothing of the file was imported.
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub certificates: Vec<ImportedCertificate>,
    /// Keys this import stored.
    pub keys_stored: u32,
}

impl FileReport {
    /// Returns how many certificates of the file had `outcome`.
    pub fn count(&self, outcome: ImportOutcome) -> u32 {
        let count = self
            .certificates
            .iter()
            .filter(|certificate| certificate.outcome == outcome)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    fn failed(file: &PreparedFile, error: String) -> Self {
        Self {
            name: file.name.clone(),
            format: file.format,
            error: Some(error),
            warnings: file.warnings.clone(),
            certificates: Vec::new(),
            keys_stored: 0,
        }
    }
}

/// An import that failed as a whole; no file of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the import's transaction failed")]
    Store(#[from] LifecycleError),

    #[error("reading the files did not finish")]
    Task(#[source] tokio::task::JoinError),
}

impl ImportError {
    /// Returns whether a retry may succeed because Postgres was unreachable.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ImportError::Store(error) => error.is_unavailable(),
            ImportError::Task(_) => false,
        }
    }
}

/// Imports certificate files (see the module documentation).
#[derive(Debug, Clone)]
pub struct FileImporter {
    pool: PgPool,
    lifecycle: Lifecycle,
    keyring: Keyring,
    clock: SharedClock,
}

impl FileImporter {
    pub fn new(pool: PgPool, lifecycle: Lifecycle, keyring: Keyring, clock: SharedClock) -> Self {
        Self {
            pool,
            lifecycle,
            keyring,
            clock,
        }
    }

    /// Imports `files` and returns one report per file, in input order. `password` decrypts
    /// PKCS#12 files and encrypted PKCS#8 keys of every file. `actor` is logged.
    ///
    /// # Errors
    /// [`ImportError`] when the transaction fails as a whole; nothing was stored then.
    pub async fn import(
        &self,
        files: Vec<UploadedFile>,
        password: Option<SecretString>,
        actor: &str,
    ) -> Result<Vec<FileReport>, ImportError> {
        let now = self.clock.now();
        let keyring = self.keyring.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            prepare_files(files, password.as_ref(), &keyring, now)
        })
        .await
        .map_err(ImportError::Task)?;

        let mut transaction = self.pool.begin().await.map_err(db_error)?;
        // Imports take turns on the license row, which every store locks anyway. Taking it
        // first also orders two imports that store the same key.
        license::lock(&mut transaction)
            .await
            .map_err(LifecycleError::from)?;
        let mut reports = Vec::with_capacity(prepared.len());
        for file in &prepared {
            reports.push(self.store_in_savepoint(&mut transaction, file, now).await?);
        }
        transaction.commit().await.map_err(db_error)?;

        log_summary(&reports, actor);
        Ok(reports)
    }

    /// Stores one file under a savepoint. A failure of the file rolls back its savepoint and is
    /// reported in the file; an unreachable database fails the import.
    async fn store_in_savepoint(
        &self,
        transaction: &mut PgConnection,
        file: &PreparedFile,
        now: OffsetDateTime,
    ) -> Result<FileReport, ImportError> {
        if let Some(error) = &file.error {
            return Ok(FileReport::failed(file, error.clone()));
        }
        let mut savepoint = transaction.begin().await.map_err(db_error)?;
        match self.store_file(&mut savepoint, file, now).await {
            Ok(report) => {
                savepoint.commit().await.map_err(db_error)?;
                Ok(report)
            }
            Err(error) if error.is_unavailable() => Err(error.into()),
            Err(error) => {
                savepoint.rollback().await.map_err(db_error)?;
                tracing::error!(
                    file.name = %file.name,
                    error = %error,
                    "storing the certificates of an imported file failed"
                );
                Ok(FileReport::failed(
                    file,
                    "storing the file's certificates failed; the cause was logged".to_owned(),
                ))
            }
        }
    }

    async fn store_file(
        &self,
        conn: &mut PgConnection,
        file: &PreparedFile,
        now: OffsetDateTime,
    ) -> Result<FileReport, LifecycleError> {
        let mut key_ids = Vec::with_capacity(file.keys.len());
        let mut keys_stored = 0;
        for key in &file.keys {
            let (id, stored) = store::store_imported_key(conn, key, now).await?;
            if stored {
                keys_stored += 1;
                tracing::info!(key.id = %id, key.algorithm = %key.algorithm, "stored an imported private key");
            }
            key_ids.push(id);
        }

        let mut certificates = Vec::with_capacity(file.certificates.len());
        for prepared in &file.certificates {
            let mut certificate = prepared.certificate.clone();
            certificate.key_id = prepared.key.map(|index| key_ids[index]);
            let facts = &certificate.facts;
            let (certificate_id, outcome, key_id) =
                match self.lifecycle.store(conn, &certificate, now).await? {
                    StoreOutcome::Held(record) | StoreOutcome::Superseded(record) => {
                        (record.id, ImportOutcome::Added, record.key_id)
                    }
                    StoreOutcome::Waiting(record) => {
                        (record.id, ImportOutcome::Waiting, record.key_id)
                    }
                    StoreOutcome::SameFingerprint { existing_id } => {
                        let key_id = match certificate.key_id {
                            Some(key_id) => {
                                store::link_key_if_missing(conn, existing_id, key_id).await?
                            }
                            None => store::certificate_key(&mut *conn, existing_id).await?,
                        };
                        (existing_id, ImportOutcome::Duplicate, key_id)
                    }
                    StoreOutcome::SameId => {
                        (certificate.id, ImportOutcome::Duplicate, certificate.key_id)
                    }
                };
            certificates.push(ImportedCertificate {
                certificate_id,
                subject: facts.subject.clone(),
                serial_number: facts.serial_number.clone(),
                sha256_fingerprint: facts.sha256_fingerprint.clone(),
                outcome,
                key_id,
            });
        }
        Ok(FileReport {
            name: file.name.clone(),
            format: file.format,
            error: None,
            warnings: file.warnings.clone(),
            certificates,
            keys_stored,
        })
    }
}

fn db_error(error: sqlx::Error) -> ImportError {
    ImportError::Store(LifecycleError::Db(error.into()))
}

fn log_summary(reports: &[FileReport], actor: &str) {
    let total = |outcome| {
        reports
            .iter()
            .map(|report| report.count(outcome))
            .sum::<u32>()
    };
    let failed = reports
        .iter()
        .filter(|report| report.error.is_some())
        .count();
    for report in reports.iter().filter(|report| report.error.is_some()) {
        tracing::debug!(
            file.name = %report.name,
            error = report.error.as_deref().unwrap_or_default(),
            "an imported file was not read"
        );
    }
    tracing::info!(
        actor = %actor,
        files = reports.len(),
        files.failed = failed,
        certificates.added = total(ImportOutcome::Added),
        certificates.waiting = total(ImportOutcome::Waiting),
        certificates.duplicates = total(ImportOutcome::Duplicate),
        keys.stored = reports.iter().map(|report| report.keys_stored).sum::<u32>(),
        "imported certificate files"
    );
}
