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
    let mut comparison = Comparison::new(stored);
    let mut result = comparison.next_chunk(listed, key, fields);
    result.removed = comparison.finish();
    result
}

/// A comparison of entries that Entrust lists a chunk at a time (a page, say) with the stored
/// ones, so that each chunk can be written while the next one is fetched. Each key may appear
/// in one chunk only: a key listed twice would be an insert twice.
pub struct Comparison<K, F> {
    /// Stored entries not listed so far: id, fields and whether marked removed.
    unlisted: HashMap<K, (i64, F, bool)>,
}

impl<K, F> Comparison<K, F>
where
    K: Eq + Hash,
    F: PartialEq,
{
    pub fn new(stored: Vec<Stored<K, F>>) -> Self {
        let unlisted = stored
            .into_iter()
            .map(|row| (row.key, (row.id, row.fields, row.removed)))
            .collect();
        Self { unlisted }
    }

    /// Compares one chunk of listed entries; the result's `removed` is always empty.
    pub fn next_chunk<'a, T>(
        &mut self,
        listed: &'a [T],
        key: impl Fn(&T) -> K,
        fields: impl Fn(&T) -> F,
    ) -> Diff<'a, T> {
        let mut result = Diff {
            inserted: Vec::new(),
            updated: Vec::new(),
            restored: 0,
            removed: Vec::new(),
        };
        for entry in listed {
            match self.unlisted.remove(&key(entry)) {
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
        result
    }

    /// Ends the comparison and returns the ids of stored rows not marked removed that no
    /// chunk listed, ascending.
    pub fn finish(self) -> Vec<i64> {
        let mut removed: Vec<i64> = self
            .unlisted
            .into_values()
            .filter(|(_, _, removed)| !removed)
            .map(|(id, _, _)| id)
            .collect();
        removed.sort_unstable();
        removed
    }
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

    #[test]
    fn chunks_compare_like_one_list() {
        let listed = [
            ("new.com", "APPROVED"),
            ("expired.com", "EXPIRED"),
            ("back.com", "APPROVED"),
            ("same.com", "APPROVED"),
        ];
        let rows = vec![
            stored(1, "expired.com", "APPROVED", false),
            stored(2, "back.com", "APPROVED", true),
            stored(3, "same.com", "APPROVED", false),
            stored(4, "gone.com", "APPROVED", false),
        ];
        let mut comparison = Comparison::new(rows);

        let first = comparison.next_chunk(&listed[..2], |entry| entry.0, |entry| entry.1);
        let second = comparison.next_chunk(&listed[2..], |entry| entry.0, |entry| entry.1);

        assert_eq!(first.inserted, [&listed[0]]);
        assert_eq!(first.updated, [(1, &listed[1])]);
        assert_eq!(first.restored, 0);
        assert_eq!(second.inserted, Vec::<&Entry>::new());
        assert_eq!(second.updated, [(2, &listed[2])]);
        assert_eq!(second.restored, 1);
        assert_eq!(comparison.finish(), [4]);
    }
}
