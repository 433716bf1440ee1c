//! Comparing the entries Entrust listed with the stored ones, so that a sync writes only what
//! changed: new entries, entries whose fields differ or that come back after being marked
//! removed, and stored entries Entrust no longer lists.

use std::collections::HashMap;
use std::hash::Hash;

/// A stored entry: its row id, natural key, compared fields and whether it is marked removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<K, F> {
    pub id: i64,
    pub key: K,
    pub fields: F,
    pub removed: bool,
}

/// The writes one kind needs after a sync: inserts, updates by id and removal marks.
#[derive(Debug, PartialEq, Eq)]
pub struct Diff<'a, T> {
    /// Listed entries without a stored row.
    pub inserted: Vec<&'a T>,
    /// Listed entries whose stored row (by id) differs or is marked removed.
    pub updated: Vec<(i64, &'a T)>,
    /// How many of `updated` were marked removed and come back.
    pub restored: usize,
    /// Ids of stored rows not marked removed that Entrust no longer lists, ascending.
    pub removed: Vec<i64>,
}

/// Compares `listed` (each key once) with `stored`, by the natural key `key` and the fields
/// `fields` of each entry.
pub fn diff<'a, T, K, F>(
    listed: &'a [T],
    stored: Vec<Stored<K, F>>,
    key: impl Fn(&T) -> K,
    fields: impl Fn(&T) -> F,
) -> Diff<'a, T>
where
    K: Eq + Hash,
    F: PartialEq,
{
    let mut by_key: HashMap<K, (i64, F, bool)> = stored
        .into_iter()
        .map(|row| (row.key, (row.id, row.fields, row.removed)))
        .collect();
    let mut result = Diff {
        inserted: Vec::new(),
        updated: Vec::new(),
        restored: 0,
        removed: Vec::new(),
    };
    for entry in listed {
        match by_key.remove(&key(entry)) {
            None => result.inserted.push(entry),
            Some((id, _, true)) => {
                result.restored += 1;
                result.updated.push((id, entry));
            }
            Some((id, stored_fields, false)) if stored_fields != fields(entry) => {
                result.updated.push((id, entry));
            }
            Some(_) => {}
        }
    }
    result.removed = by_key
        .into_values()
        .filter(|(_, _, removed)| !removed)
        .map(|(id, _, _)| id)
        .collect();
    result.removed.sort_unstable();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listed entry: name and status.
    type Entry = (&'static str, &'static str);

    fn stored(
        id: i64,
        name: &'static str,
        status: &'static str,
        removed: bool,
    ) -> Stored<&'static str, &'static str> {
        Stored {
            id,
            key: name,
            fields: status,
            removed,
        }
    }

    fn compare<'a>(
        listed: &'a [Entry],
        rows: Vec<Stored<&'static str, &'static str>>,
    ) -> Diff<'a, Entry> {
        diff(listed, rows, |entry| entry.0, |entry| entry.1)
    }

    #[test]
    fn unchanged_entries_need_no_write() {
        let listed = [("a.com", "APPROVED"), ("b.com", "PENDING")];

        let result = compare(
            &listed,
            vec![
                stored(1, "a.com", "APPROVED", false),
                stored(2, "b.com", "PENDING", false),
            ],
        );

        assert!(result.inserted.is_empty());
        assert!(result.updated.is_empty());
        assert!(result.removed.is_empty());
    }

    #[test]
    fn each_kind_of_change_is_found() {
        let listed = [
            ("new.com", "APPROVED"),
            ("expired.com", "EXPIRED"),
            ("back.com", "APPROVED"),
            ("same.com", "APPROVED"),
        ];

        let result = compare(
            &listed,
            vec![
                stored(1, "expired.com", "APPROVED", false),
                stored(2, "back.com", "APPROVED", true),
                stored(3, "same.com", "APPROVED", false),
                stored(4, "gone.com", "APPROVED", false),
                stored(5, "long-gone.com", "APPROVED", true),
            ],
        );

        assert_eq!(result.inserted, [&listed[0]]);
        assert_eq!(result.updated, [(1, &listed[1]), (2, &listed[2])]);
        assert_eq!(result.restored, 1);
        assert_eq!(result.removed, [4]);
    }
}
