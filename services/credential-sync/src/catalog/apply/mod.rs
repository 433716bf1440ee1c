//! Storing the listed entries of one kind: read the stored entries, compare them with the
//! listed ones (see `diff`), and write only the difference. New entries are inserted, changed
//! or returning ones updated by id, and vanished ones marked removed. An unchanged catalog thus
//! costs one read per kind and no write.
//!
//! The caller runs this inside its transaction, and at most one sync per credential runs at a
//! time (see the sync module), so no other writer changes the entries between the read and the
//! writes. Entries travel as parallel arrays (`UNNEST`), so the number of statements does not
//! grow with the number of entries.

mod domains;
mod organizations;
mod products;

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::CatalogKind;
use super::diff::Diff;

pub use domains::{DomainWriter, apply_domains};
pub use organizations::apply_organizations;
pub use products::apply_products;

/// Counts of one kind's entries after storing them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Entries Entrust listed.
    pub listed: u32,
    /// Entries new to the stored catalog, or listed again after being marked removed.
    pub added: u32,
    /// Stored entries of which a field changed.
    pub changed: u32,
    /// Stored entries Entrust no longer lists, marked removed now.
    pub removed: u32,
}

impl KindCounts {
    pub(super) fn new<T>(listed: usize, diff: &Diff<'_, T>) -> Self {
        let count = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
        Self {
            listed: count(listed),
            added: count(diff.inserted.len() + diff.restored),
            changed: count(diff.updated.len() - diff.restored),
            removed: count(diff.removed.len()),
        }
    }

    /// Adds the counts of another chunk of the same kind.
    pub(super) fn add(&mut self, other: Self) {
        self.listed = self.listed.saturating_add(other.listed);
        self.added = self.added.saturating_add(other.added);
        self.changed = self.changed.saturating_add(other.changed);
        self.removed = self.removed.saturating_add(other.removed);
    }
}

/// Truncates an instant to whole microseconds, the precision Postgres stores, so that a listed
/// instant compares equal to its stored copy.
pub(super) fn to_micros(instant: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    instant.map(|instant| {
        let micros = instant.nanosecond() / 1_000 * 1_000;
        instant.replace_nanosecond(micros).unwrap_or(instant)
    })
}

pub(super) fn client_id(value: Option<u32>) -> Option<i64> {
    value.map(i64::from)
}

pub(super) fn database_count(value: Option<u64>) -> Option<i64> {
    value.map(|value| i64::try_from(value).unwrap_or(i64::MAX))
}

/// Marks the rows `ids` of `kind`'s table removed at `now`.
pub(super) async fn mark_removed(
    conn: &mut PgConnection,
    kind: CatalogKind,
    ids: &[i64],
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let statement = match kind {
        CatalogKind::Organizations => {
            "UPDATE organizations SET removed_at = $2, updated_at = $2 WHERE id = ANY ($1)"
        }
        CatalogKind::Domains => {
            "UPDATE domains SET removed_at = $2, updated_at = $2 WHERE id = ANY ($1)"
        }
        CatalogKind::Products => {
            "UPDATE products SET removed_at = $2, updated_at = $2 WHERE id = ANY ($1)"
        }
    };
    sqlx::query(statement)
        .bind(ids)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
