//! The catalog mirrored from each credential's Entrust account: organizations, domains and
//! products. A sync fetches all three, then stores them in one transaction (see [`apply`]);
//! the list calls read them back a page at a time.

mod apply;
mod list;

use std::collections::HashMap;

use entrust::CertificateAuthority;
use entrust::model::{Domain, Organization, Product};

pub use apply::{AppliedCatalog, apply};
pub use list::{
    CatalogQuery, DomainEntry, OrganizationEntry, ProductEntry, list_domains, list_organizations,
    list_products,
};

/// One credential's catalog as Entrust listed it, each entry once per natural key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub organizations: Vec<Organization>,
    pub domains: Vec<Domain>,
    pub products: Vec<Product>,
}

impl Catalog {
    /// Builds a catalog, keeping the last entry of each natural key (organization and domain
    /// name with client id, product type), since one upsert statement cannot touch a row twice.
    pub fn new(
        organizations: Vec<Organization>,
        domains: Vec<Domain>,
        products: Vec<Product>,
    ) -> Self {
        Self {
            organizations: last_per_key(organizations, |o| (o.name.clone(), o.client_id)),
            domains: last_per_key(domains, |d| (d.name.clone(), d.client_id)),
            products: last_per_key(products, |p| p.product_type.clone()),
        }
    }
}

/// Fetches the whole catalog (domains: every page) with three concurrent calls; fails with the
/// first error.
pub async fn fetch(authority: &dyn CertificateAuthority) -> Result<Catalog, entrust::Error> {
    let (organizations, domains, products) = tokio::try_join!(
        authority.organizations(),
        authority.domains(),
        authority.products()
    )?;
    Ok(Catalog::new(organizations, domains, products))
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
        let catalog = Catalog::new(
            Vec::new(),
            Vec::new(),
            vec![
                product("STANDARD_SSL", 1),
                product("EV_SSL", 2),
                product("STANDARD_SSL", 3),
            ],
        );

        assert_eq!(
            catalog.products,
            vec![product("STANDARD_SSL", 3), product("EV_SSL", 2)]
        );
    }
}
