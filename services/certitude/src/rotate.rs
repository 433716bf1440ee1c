//! `certitude rotate-master-key`: moves every sealed secret of credential-sync and the inventory
//! to a new master key, the database step of a master key rotation.
//!
//! The steps around it, in order:
//! 1. put the new key first in every replica's keyring, with the old key after it;
//! 2. restart the replicas one at a time;
//! 3. run this command with the same keyring;
//! 4. check that it reports 0 left;
//! 5. remove the old key from every keyring and restart the replicas again.
//!
//! [`PROCEDURE`] is the command's `--help` text and spells out each step.

use std::fmt;
use std::path::PathBuf;

use certitude_platform::config::{ConnectionUrl, SchemaName, ValueError};
use certitude_platform::db::{self, DbError, DbSettings};
use certitude_platform::seal::{ColumnRewrap, KeyId, Keyring, KeyringError, RewrapError};
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use sqlx::PgPool;

/// The `--help` text of the command: what it does and the steps of a rotation.
pub const PROCEDURE: &str = "\
Re-wraps the data key of every sealed secret under the current master key: credential-sync's \
API keys and client certificate keys, and the inventory's private keys. The current key is the \
first one in CERTITUDE_MASTER_KEYS or CERTITUDE_MASTER_KEY_FILE; the keys after it must include \
every key that sealed a stored secret. Only the wrapped data keys change, and each new blob is \
opened once with its row's associated data before it is written. The command prints counts per \
table and column and never prints a key.

Rotation procedure:
  1. Generate the new key: certitude generate-master-key --id k2
  2. Put it first in the keyring of every replica of credential-sync and the inventory, with the \
old key after it (CERTITUDE_MASTER_KEYS=k2:...,k1:...), and restart the replicas one at a time. \
They then seal new secrets with k2 and still open the ones sealed with k1.
  3. Run this command with the same keyring and, for each service, its own database URL and \
schema. It works in short transactions while the services keep serving, never overwrites a \
secret written meanwhile, and can be run again at any time.
  4. Check that it reports 0 left for every column. If some are left, a replica still sealed \
with the old key or rows changed during the run: make sure every replica runs with the new \
keyring and run the command again.
  5. Remove the old key from every keyring and restart the replicas again. Keep a copy of the \
old key for as long as you keep database backups taken before the rotation: they need it.

Each service's database is optional, so the services can be rotated one at a time. The command \
exits with status 1 when a step fails or blobs are left under older keys.";

/// Settings of `certitude rotate-master-key`. `Debug` hides URLs' passwords and key material.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateMasterKeyArgs {
    /// Master keys as ID:BASE64 entries separated by commas: the new key first, then every
    /// older key that may have sealed a stored secret.
    #[arg(long, env = "CERTITUDE_MASTER_KEYS", hide_env_values = true,
        value_parser = parse_master_keys, conflicts_with = "master_key_file",
        required_unless_present = "master_key_file", help_heading = "Secrets")]
    pub master_keys: Option<Keyring>,

    /// File with one ID:BASE64 master key per line, new key first, in place of
    /// CERTITUDE_MASTER_KEYS.
    #[arg(long, env = "CERTITUDE_MASTER_KEY_FILE", value_parser = read_master_key_file,
        help_heading = "Secrets")]
    pub master_key_file: Option<Keyring>,

    /// Postgres URL of credential-sync's role; unset, credential-sync is skipped.
    #[arg(long, env = "CERTITUDE_CREDENTIAL_SYNC_DATABASE_URL", hide_env_values = true,
        value_parser = parse_database_url, help_heading = "credential-sync")]
    pub credential_sync_database_url: Option<ConnectionUrl>,

    /// Postgres schema of credential-sync's tables.
    #[arg(long, env = "CERTITUDE_CREDENTIAL_SYNC_DB_SCHEMA",
        default_value = certitude_credential_sync::DEFAULT_SCHEMA, value_parser = SchemaName::parse,
        help_heading = "credential-sync")]
    pub credential_sync_db_schema: SchemaName,

    /// Postgres URL of the inventory's role; unset, the inventory is skipped.
    #[arg(long, env = "CERTITUDE_INVENTORY_DATABASE_URL", hide_env_values = true,
        value_parser = parse_database_url, help_heading = "inventory")]
    pub inventory_database_url: Option<ConnectionUrl>,

    /// Postgres schema of the inventory's tables.
    #[arg(long, env = "CERTITUDE_INVENTORY_DB_SCHEMA", default_value = "inventory",
        value_parser = SchemaName::parse, help_heading = "inventory")]
    pub inventory_db_schema: SchemaName,
}

impl RotateMasterKeyArgs {
    fn keyring(&self) -> Result<&Keyring, RotateError> {
        self.master_keys
            .as_ref()
            .or(self.master_key_file.as_ref())
            .ok_or(RotateError::NoMasterKey)
    }
}

fn parse_master_keys(value: &str) -> Result<Keyring, KeyringError> {
    Keyring::parse_list(value)
}

fn read_master_key_file(path: &str) -> Result<Keyring, String> {
    let text = std::fs::read_to_string(PathBuf::from(path))
        .map(Zeroizing::new)
        .map_err(|error| format!("failed to read the file: {error}"))?;
    Keyring::parse_lines(&text).map_err(|error| error.to_string())
}

fn parse_database_url(value: &str) -> Result<ConnectionUrl, ValueError> {
    ConnectionUrl::parse(value, &["postgres", "postgresql"])
}

/// The outcome of a rotation run: the current key and the counts of every column re-wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Id of the master key every blob was moved to.
    pub current_key_id: KeyId,
    /// One entry per service handled, in the order handled.
    pub services: Vec<ServiceRotation>,
}

/// The columns of one service, re-wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRotation {
    /// `credential-sync` or `inventory`.
    pub service: &'static str,
    pub columns: Vec<ColumnRewrap>,
}

impl RotationReport {
    /// Returns the number of blobs, over all columns, still not under the current key when the
    /// run ended. The older keys may be removed from the keyrings only when it is 0.
    pub fn remaining(&self) -> u64 {
        self.columns().map(|column| column.stats.remaining).sum()
    }

    /// Returns the number of blobs re-wrapped by this run, over all columns.
    pub fn rewrapped(&self) -> u64 {
        self.columns().map(|column| column.stats.rewrapped).sum()
    }

    fn columns(&self) -> impl Iterator<Item = &ColumnRewrap> {
        self.services.iter().flat_map(|service| &service.columns)
    }
}

/// One line per column, then a summary line; key ids only, never key material.
impl fmt::Display for RotationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "current master key: {}", self.current_key_id)?;
        for service in &self.services {
            for ColumnRewrap { column, stats } in &service.columns {
                writeln!(
                    f,
                    "{} {column}: {} examined, {} re-wrapped, {} already current, \
                     {} changed during the run, {} left",
                    service.service,
                    stats.examined,
                    stats.rewrapped,
                    stats.already_current,
                    stats.changed_concurrently,
                    stats.remaining,
                )?;
            }
        }
        write!(f, "{} blobs left under older master keys", self.remaining())
    }
}

/// A rotation run that stopped.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(
        "no service database given: set CERTITUDE_CREDENTIAL_SYNC_DATABASE_URL, \
         CERTITUDE_INVENTORY_DATABASE_URL or both"
    )]
    NoService,

    #[error("no master key given: set CERTITUDE_MASTER_KEYS or CERTITUDE_MASTER_KEY_FILE")]
    NoMasterKey,

    #[error("failed to connect to the database of {service}: check its URL and schema")]
    Connect {
        service: &'static str,
        #[source]
        source: DbError,
    },

    #[error("re-wrapping the secrets of {service} stopped")]
    Rewrap {
        service: &'static str,
        #[source]
        source: Box<RewrapError>,
    },
}

/// Re-wraps every sealed column of each service whose database URL is given, under the current
/// key of the given keyring, and returns the counts.
///
/// Connects as each service's own role in its schema. Services and columns are handled one
/// after the other; a failure stops the run, and what was re-wrapped before it stays so.
///
/// # Errors
/// [`RotateError::NoService`] or [`RotateError::NoMasterKey`] for incomplete settings; the
/// other variants name the service whose database or blobs failed.
pub async fn rotate_master_key(args: &RotateMasterKeyArgs) -> Result<RotationReport, RotateError> {
    let keyring = args.keyring()?;
    if args.credential_sync_database_url.is_none() && args.inventory_database_url.is_none() {
        return Err(RotateError::NoService);
    }

    let mut services = Vec::new();
    if let Some(url) = &args.credential_sync_database_url {
        let service = "credential-sync";
        let pool = connect(service, url, &args.credential_sync_db_schema).await?;
        let columns = certitude_credential_sync::sealed::rewrap_all(&pool, keyring).await;
        pool.close().await;
        let columns = columns.map_err(|source| RotateError::Rewrap {
            service,
            source: Box::new(source),
        })?;
        services.push(ServiceRotation { service, columns });
    }
    if let Some(url) = &args.inventory_database_url {
        let service = "inventory";
        let pool = connect(service, url, &args.inventory_db_schema).await?;
        let columns = certitude_inventory::sealed::rewrap_all(&pool, keyring).await;
        pool.close().await;
        let columns = columns.map_err(|source| RotateError::Rewrap {
            service,
            source: Box::new(source),
        })?;
        services.push(ServiceRotation { service, columns });
    }
    Ok(RotationReport {
        current_key_id: keyring.current_key_id().clone(),
        services,
    })
}

async fn connect(
    service: &'static str,
    url: &ConnectionUrl,
    schema: &SchemaName,
) -> Result<PgPool, RotateError> {
    let mut settings = DbSettings::new(SecretString::from(url.expose_secret()), schema.as_str());
    settings.max_connections = 2;
    settings.application_name = Some("certitude-rotate-master-key".to_owned());
    db::connect(&settings)
        .await
        .map_err(|source| RotateError::Connect { service, source })
}
