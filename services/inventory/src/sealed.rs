//! The sealed columns of the inventory, for a master key rotation: each key pair's private key,
//! sealed with the associated data `record_aad("keys", "private_key", key id)`.
//!
//! [`rewrap_all`] moves every blob to the keyring's current master key, leaving the private
//! keys as they are. The `certitude rotate-master-key` command calls it with this service's
//! database role and schema.

use certitude_platform::seal::{
    ColumnRewrap, DEFAULT_REWRAP_BATCH_SIZE, Keyring, RewrapError, SealedColumn, record_aad,
    rewrap_column,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::key_store::{KEYS_TABLE, PRIVATE_KEY_COLUMN};

/// Every column of this service that contains sealed blobs.
pub const SEALED_COLUMNS: [SealedColumn<'static>; 1] = [SealedColumn {
    table: KEYS_TABLE,
    id_column: "id",
    column: PRIVATE_KEY_COLUMN,
}];

/// Re-wraps every sealed column of the service (see [`SEALED_COLUMNS`]) under `keyring`'s
/// current master key and returns the counts of each.
///
/// `pool` must work in the service's schema, as the service's own pool does. Safe to run while
/// the service serves with a keyring that contains both the new and the old key, and safe to
/// run again.
///
/// # Errors
/// The first [`RewrapError`]; batches before it stay re-wrapped.
pub async fn rewrap_all(
    pool: &PgPool,
    keyring: &Keyring,
) -> Result<Vec<ColumnRewrap>, RewrapError> {
    let mut reports = Vec::with_capacity(SEALED_COLUMNS.len());
    for column in SEALED_COLUMNS {
        let aad = |id: &Uuid| record_aad(column.table, column.column, &id.to_string());
        let stats = rewrap_column(pool, &column, aad, keyring, DEFAULT_REWRAP_BATCH_SIZE).await?;
        reports.push(ColumnRewrap { column, stats });
    }
    Ok(reports)
}
