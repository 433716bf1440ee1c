//! Re-wrapping every sealed blob of a table column under the keyring's current master key, the
//! database half of a master key rotation.
//!
//! [`rewrap_column`] walks the rows in id order, in batches of short statements, so it never
//! holds a long transaction or many locks while the services keep serving. Only the data key of
//! each blob is wrapped again ([`Keyring::rewrap`]); the encrypted secret stays as it was. Each
//! new blob is opened with its row's associated data before it is written, so a blob that would
//! not open once the old key is gone is reported instead of stored.
//!
//! A row is updated only while it still contains the bytes that were read: the `UPDATE` compares
//! the old blob in its `WHERE` clause, so a secret written meanwhile by a service is never
//! overwritten. Running the walk again is harmless, because blobs already under the current key
//! are skipped, and it picks up the rows that changed during the previous run.

use std::fmt;
use std::num::NonZeroU32;

use sqlx::{PgPool, Postgres};

use super::{Keyring, SealError};
use crate::db::{DbError, validate_identifier};

/// Rows read and updated per batch (and per transaction) when the caller has no reason to pick
/// another size.
pub const DEFAULT_REWRAP_BATCH_SIZE: NonZeroU32 = NonZeroU32::new(100).expect("100 is not zero");

/// A column of sealed blobs: its table, the table's unique id column, and the column itself.
/// All three are plain lowercase SQL identifiers, resolved through the connection's
/// `search_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn<'a> {
    pub table: &'a str,
    /// A unique, ordered column (normally the primary key) that keyset paging follows.
    pub id_column: &'a str,
    pub column: &'a str,
}

impl fmt::Display for SealedColumn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// Counts of one run of [`rewrap_column`]. Rows whose column is NULL are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapStats {
    /// Blobs read.
    pub examined: u64,
    /// Blobs moved to the current master key.
    pub rewrapped: u64,
    /// Blobs that were already under the current master key.
    pub already_current: u64,
    /// Blobs left as they were because their row changed or was deleted between the read and
    /// the update; a service wrote the row meanwhile.
    pub changed_concurrently: u64,
    /// Blobs not under the current master key when a check after the walk read the column
    /// again. Zero means the column no longer needs the older keys, unless a replica still
    /// seals with an older current key.
    pub remaining: u64,
}

/// The outcome of re-wrapping one column, as a service's list of sealed columns reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRewrap {
    pub column: SealedColumn<'static>,
    pub stats: RewrapStats,
}

/// A re-wrapping run that stopped. Rows of earlier batches stay re-wrapped, and the run can be
/// repeated once the cause is fixed.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    /// The table or a column name is not a plain lowercase identifier.
    #[error("cannot re-wrap {column}: invalid name")]
    InvalidName {
        column: String,
        #[source]
        source: DbError,
    },

    /// Reading or updating the column failed.
    #[error("reading or updating {column} failed while re-wrapping it; run the rotation again")]
    Db {
        column: String,
        #[source]
        source: DbError,
    },

    /// A blob could not be re-wrapped, or the re-wrapped blob did not open with its row's
    /// associated data.
    #[error(
        "re-wrapping {column} of row {row_id} failed: if the blob's master key is missing, add \
         it to the keyring after the current key and run the rotation again"
    )]
    Seal {
        column: String,
        row_id: String,
        #[source]
        source: SealError,
    },
}

/// Re-wraps every blob of `column` that is not under `keyring`'s current master key, and then
/// counts the blobs still not under it.
///
/// `aad` returns the associated data each row's blob was sealed with, such as
/// [`record_aad`](super::record_aad) of the table, the column and the row id. Each batch of
/// `batch_size` rows is read in one statement and updated in one short transaction. Safe to run
/// while services read and write the table with a keyring that contains both the new and the
/// old key, and safe to run again.
///
/// # Errors
/// [`RewrapError::Seal`] when a blob names a master key missing from `keyring`, is malformed,
/// or fails to open after re-wrapping; [`RewrapError::Db`] when Postgres fails. The batches
/// before the failing one stay committed.
pub async fn rewrap_column<I, F>(
    pool: &PgPool,
    column: &SealedColumn<'_>,
    aad: F,
    keyring: &Keyring,
    batch_size: NonZeroU32,
) -> Result<RewrapStats, RewrapError>
where
    I: RowId,
    F: Fn(&I) -> Vec<u8>,
{
    let walk = Walk::new(pool, column, batch_size)?;
    let mut stats = RewrapStats::default();
    let mut after: Option<I> = None;
    loop {
        let batch = walk.next_batch(after.as_ref()).await?;
        let full = batch.len() == walk.limit();
        after = batch.last().map(|(id, _)| id.clone());
        walk.rewrap_batch(batch, &aad, keyring, &mut stats).await?;
        if !full {
            break;
        }
    }
    stats.remaining = walk.count_not_current::<I>(keyring).await?;

    tracing::info!(
        table = column.table,
        column = column.column,
        examined = stats.examined,
        rewrapped = stats.rewrapped,
        already_current = stats.already_current,
        changed_concurrently = stats.changed_concurrently,
        remaining = stats.remaining,
        key.id = %keyring.current_key_id(),
        "re-wrapped sealed column"
    );
    Ok(stats)
}

/// A type of row id that [`rewrap_column`] can page by, such as `uuid::Uuid` or `i64`.
pub trait RowId:
    for<'r> sqlx::Decode<'r, Postgres>
    + for<'q> sqlx::Encode<'q, Postgres>
    + sqlx::Type<Postgres>
    + Clone
    + fmt::Display
    + Send
    + Sync
    + Unpin
    + 'static
{
}

impl<T> RowId for T where
    T: for<'r> sqlx::Decode<'r, Postgres>
        + for<'q> sqlx::Encode<'q, Postgres>
        + sqlx::Type<Postgres>
        + Clone
        + fmt::Display
        + Send
        + Sync
        + Unpin
        + 'static
{
}

/// The statements of one column's walk.
struct Walk<'a> {
    pool: &'a PgPool,
    column: &'a SealedColumn<'a>,
    first_batch: String,
    next_batch: String,
    update: String,
    batch_size: NonZeroU32,
}

impl<'a> Walk<'a> {
    fn new(
        pool: &'a PgPool,
        column: &'a SealedColumn<'a>,
        batch_size: NonZeroU32,
    ) -> Result<Self, RewrapError> {
        for (kind, name) in [
            ("table", column.table),
            ("column", column.id_column),
            ("column", column.column),
        ] {
            validate_identifier(kind, name).map_err(|source| RewrapError::InvalidName {
                column: column.to_string(),
                source,
            })?;
        }
        // The names were validated as plain identifiers above, so quoting them is safe.
        let SealedColumn {
            table,
            id_column: id,
            column: blob,
        } = column;
        let select =
            format!("SELECT \"{id}\", \"{blob}\" FROM \"{table}\" WHERE \"{blob}\" IS NOT NULL");
        Ok(Self {
            pool,
            column,
            first_batch: format!("{select} ORDER BY \"{id}\" LIMIT $1"),
            next_batch: format!("{select} AND \"{id}\" > $2 ORDER BY \"{id}\" LIMIT $1"),
            update: format!(
                "UPDATE \"{table}\" SET \"{blob}\" = $1 WHERE \"{id}\" = $2 AND \"{blob}\" = $3"
            ),
            batch_size,
        })
    }

    fn limit(&self) -> usize {
        self.batch_size.get() as usize
    }

    /// Reads the next rows with a blob, in id order, after `after` (from the start for `None`).
    async fn next_batch<I: RowId>(
        &self,
        after: Option<&I>,
    ) -> Result<Vec<(I, Vec<u8>)>, RewrapError> {
        let limit = i64::from(self.batch_size.get());
        let rows = match after {
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(self.first_batch.as_str()))
                    .bind(limit)
                    .fetch_all(self.pool)
                    .await
            }
            Some(after) => {
                sqlx::query_as(sqlx::AssertSqlSafe(self.next_batch.as_str()))
                    .bind(limit)
                    .bind(after.clone())
                    .fetch_all(self.pool)
                    .await
            }
        };
        rows.map_err(|error| self.db_error(error))
    }

    /// Re-wraps the blobs of one batch that need it and writes them in one transaction, each
    /// only if its row still contains the blob that was read.
    async fn rewrap_batch<I, F>(
        &self,
        batch: Vec<(I, Vec<u8>)>,
        aad: &F,
        keyring: &Keyring,
        stats: &mut RewrapStats,
    ) -> Result<(), RewrapError>
    where
        I: RowId,
        F: Fn(&I) -> Vec<u8>,
    {
        let mut changes = Vec::new();
        for (id, sealed) in batch {
            stats.examined += 1;
            let current = keyring
                .is_current(&sealed)
                .map_err(|source| self.seal_error(&id, source))?;
            if current {
                stats.already_current += 1;
                continue;
            }
            let rewrapped = rewrap_verified(keyring, &sealed, &aad(&id))
                .map_err(|source| self.seal_error(&id, source))?;
            changes.push((id, sealed, rewrapped));
        }
        if changes.is_empty() {
            return Ok(());
        }

        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(|error| self.db_error(error))?;
        for (id, old, new) in changes {
            let updated = sqlx::query(sqlx::AssertSqlSafe(self.update.as_str()))
                .bind(new)
                .bind(id)
                .bind(old)
                .execute(&mut *transaction)
                .await
                .map_err(|error| self.db_error(error))?;
            if updated.rows_affected() == 1 {
                stats.rewrapped += 1;
            } else {
                stats.changed_concurrently += 1;
            }
        }
        transaction
            .commit()
            .await
            .map_err(|error| self.db_error(error))
    }

    /// Reads the column again and counts the blobs not under the current master key.
    async fn count_not_current<I: RowId>(&self, keyring: &Keyring) -> Result<u64, RewrapError> {
        let mut remaining = 0;
        let mut after: Option<I> = None;
        loop {
            let batch = self.next_batch(after.as_ref()).await?;
            let full = batch.len() == self.limit();
            for (id, sealed) in &batch {
                let current = keyring
                    .is_current(sealed)
                    .map_err(|source| self.seal_error(id, source))?;
                remaining += u64::from(!current);
            }
            after = batch.last().map(|(id, _)| id.clone());
            if !full {
                return Ok(remaining);
            }
        }
    }

    fn db_error(&self, error: sqlx::Error) -> RewrapError {
        RewrapError::Db {
            column: self.column.to_string(),
            source: DbError::from(error),
        }
    }

    fn seal_error(&self, id: &impl fmt::Display, source: SealError) -> RewrapError {
        RewrapError::Seal {
            column: self.column.to_string(),
            row_id: id.to_string(),
            source,
        }
    }
}

/// Re-wraps `sealed` and checks that the result opens with `aad` under the current key.
fn rewrap_verified(keyring: &Keyring, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    let rewrapped = keyring.rewrap(sealed)?;
    // The opened secret is dropped (and zeroized) at once: only the success matters.
    keyring.open(&rewrapped, aad)?;
    Ok(rewrapped)
}
