//! The catalog mirrored from each credential's Entrust account: organizations, domains and
//! products. A sync fetches the requested kinds concurrently and stores each kind Entrust
//! listed (see [`apply`]). The list calls read them back a page at a time.

mod apply;
mod diff;
mod kinds;
mod list;
mod ordering;

use std::collections::HashMap;

use entrust::CertificateAuthority;
use entrust::model::{Domain, Organization, Product};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

pub use apply::{DomainWriter, KindCounts};
pub use kinds::{CatalogKind, KindSet};
pub use list::{
    CatalogQuery, DomainEntry, OrganizationEntry, ProductEntry, list_domains, list_organizations,
    list_products,
};
pub use ordering::{OrderingQuery, ordering_catalog};

/// The entries of one kind as Entrust listed them, each once per natural key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entries {
    Organizations(Vec<Organization>),
    Domains(Vec<Domain>),
    Products(Vec<Product>),
}

impl Entries {
    /// Builds the organizations, keeping the last entry of each name and client id, since one
    /// upsert statement cannot touch a row twice.
    pub fn organizations(organizations: Vec<Organization>) -> Self {
        Self::Organizations(last_per_key(organizations, |o| {
            (o.name.clone(), o.client_id)
        }))
    }

    /// Builds the domains, keeping the last entry of each name and client id.
    pub fn domains(domains: Vec<Domain>) -> Self {
        Self::Domains(last_per_key(domains, |d| (d.name.clone(), d.client_id)))
    }

    /// Builds the products, keeping the last entry of each product type.
    pub fn products(products: Vec<Product>) -> Self {
        Self::Products(last_per_key(products, |p| p.product_type.clone()))
    }
}

/// Fetches each of `kinds` concurrently (domains: every page) and returns each kind's entries
/// or error, in the order of `kinds`. One kind failing does not stop the others.
pub async fn fetch(
    authority: &dyn CertificateAuthority,
    kinds: &[CatalogKind],
) -> Vec<(CatalogKind, Result<Entries, entrust::Error>)> {
    let fetches = kinds.iter().map(|&kind| async move {
        let entries = match kind {
            CatalogKind::Organizations => {
                authority.organizations().await.map(Entries::organizations)
            }
            CatalogKind::Domains => authority.domains().await.map(Entries::domains),
            CatalogKind::Products => authority.products().await.map(Entries::products),
        };
        (kind, entries)
    });
    futures::future::join_all(fetches).await
}

/// Stores one kind's entries as the credential's current ones at `now`, on `conn`, which
/// should be inside the caller's transaction so that a failure leaves the previous entries
/// whole.
pub async fn apply(
    conn: &mut PgConnection,
    credential_id: Uuid,
    entries: &Entries,
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
    match entries {
        Entries::Organizations(organizations) => {
            apply::apply_organizations(conn, credential_id, organizations, now).await
        }
        Entries::Domains(domains) => apply::apply_domains(conn, credential_id, domains, now).await,
        Entries::Products(products) => {
            apply::apply_products(conn, credential_id, products, now).await
        }
    }
}

/// Keeps the last item of each key, in the order of the keys' first appearance.
fn last_per_key<T, K>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T>
where
    K: std::hash::Hash + Eq,
{
    let mut position: HashMap<K, usize> = HashMap::new();
    let mut deduplicated: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        match position.get(&key(&item)) {
            Some(&index) => deduplicated[index] = item,
            None => {
                position.insert(key(&item), deduplicated.len());
                deduplicated.push(item);
            }
        }
    }
    deduplicated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(product_type: &str, remaining: u64) -> Product {
        Product {
            product_type: product_type.to_owned(),
            remaining: Some(remaining),
            used: None,
            total: None,
            unlimited: false,
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last_entry() {
        let entries = Entries::products(vec![
            product("STANDARD_SSL", 1),
            product("EV_SSL", 2),
            product("STANDARD_SSL", 3),
        ]);

        assert_eq!(
            entries,
            Entries::Products(vec![product("STANDARD_SSL", 3), product("EV_SSL", 2)])
        );
    }
}
