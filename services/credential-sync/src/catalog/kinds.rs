//! The kinds of catalog entries a sync can cover, and sets of them.

use std::fmt;

use crate::error::ServiceError;

/// One kind of catalog entry, synced from its own Entrust endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CatalogKind {
    /// `GET /organizations`.
    Organizations,
    /// `GET /domains`, every page.
    Domains,
    /// `GET /inventories`.
    Products,
}

impl CatalogKind {
    /// Every kind, in the order runs report them.
    pub const ALL: [CatalogKind; 3] = [
        CatalogKind::Organizations,
        CatalogKind::Domains,
        CatalogKind::Products,
    ];

    /// Returns the kind as stored and as the gRPC contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organizations => "organizations",
            Self::Domains => "domains",
            Self::Products => "products",
        }
    }

    /// Parses a kind as [`CatalogKind::as_str`] spells it, ignoring case and surrounding
    /// whitespace.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for CatalogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of kinds, kept in [`CatalogKind::ALL`] order without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSet(Vec<CatalogKind>);

impl KindSet {
    /// Returns the set of every kind.
    pub fn all() -> Self {
        Self(CatalogKind::ALL.to_vec())
    }

    /// Parses the `kinds` of a request; no kinds means every kind. An unknown name is
    /// INVALID_ARGUMENT naming the `kinds` field.
    pub fn parse(names: &[String]) -> Result<Self, ServiceError> {
        let mut kinds = Vec::with_capacity(names.len());
        for name in names {
            let kind = CatalogKind::parse(name).ok_or_else(|| {
                ServiceError::invalid(
                    "kinds",
                    format!(
                        "{name:?} is not a catalog kind: use organizations, domains or \
                         products, or no kinds for all three"
                    ),
                )
            })?;
            kinds.push(kind);
        }
        if kinds.is_empty() {
            return Ok(Self::all());
        }
        Ok(Self::from_kinds(kinds))
    }

    /// Builds a set from stored names, skipping unknown ones, which the table's check
    /// constraint rules out; an empty result means every kind.
    pub fn from_stored(names: &[String]) -> Self {
        let kinds: Vec<CatalogKind> = names
            .iter()
            .filter_map(|name| CatalogKind::parse(name))
            .collect();
        if kinds.is_empty() {
            return Self::all();
        }
        Self::from_kinds(kinds)
    }

    fn from_kinds(mut kinds: Vec<CatalogKind>) -> Self {
        kinds.sort_unstable();
        kinds.dedup();
        Self(kinds)
    }

    /// Returns the kinds in [`CatalogKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = CatalogKind> + '_ {
        self.0.iter().copied()
    }

    /// Returns the kinds' names, as stored.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|kind| kind.as_str().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn no_kinds_means_every_kind() {
        let kinds = KindSet::parse(&[]).expect("an empty list is valid");

        assert_eq!(kinds, KindSet::all());
    }

    #[test]
    fn kinds_are_sorted_without_repeats() {
        let kinds = KindSet::parse(&names(&["Products", " domains", "products"]))
            .expect("the kinds are known");

        assert_eq!(kinds.names(), names(&["domains", "products"]));
    }

    #[test]
    fn unknown_kind_names_the_field() {
        let error = KindSet::parse(&names(&["domains", "orders"])).expect_err("orders is no kind");

        let message = error.to_string();
        assert!(message.starts_with("kinds: \"orders\""), "{message}");
    }
}
