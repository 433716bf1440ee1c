//! The sealed columns of credential-sync, for a master key rotation: each credential's API key
//! and client certificate key, sealed with the associated data
//! `record_aad("credentials", column, credential id)`.
//!
//! [`rewrap_all`] moves every blob to the keyring's current master key, leaving the secrets as
//! they are. The `certitude rotate-master-key` command calls it with this service's database
//! role and schema.

use certitude_platform::seal::{
    ColumnRewrap, DEFAULT_REWRAP_BATCH_SIZE, Keyring, RewrapError, SealedColumn, record_aad,
    rewrap_column,
};
use sqlx::PgPool;
use uuid::Uuid;

/// Every column of this service that contains sealed blobs. `client_key` is NULL for credentials
/// without a client certificate, and such rows are skipped.
pub const SEALED_COLUMNS: [SealedColumn<'static>; 2] = [
    SealedColumn {
        table: "credentials",
        id_column: "id",
        column: "api_key",
    },
    SealedColumn {
        table: "credentials",
        id_column: "id",
        column: "client_key",
    },
];

/// Re-wraps every sealed column of the service (see [`SEALED_COLUMNS`]) under `keyring`'s
/// current master key, one column after the other, and returns the counts of each.
///
/// `pool` must work in the service's schema, as the service's own pool does. Safe to run while
/// the service serves with a keyring that contains both the new and the old key, and safe to
/// run again.
///
/// # Errors
/// The first [`RewrapError`]; columns and batches before it stay re-wrapped.
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
