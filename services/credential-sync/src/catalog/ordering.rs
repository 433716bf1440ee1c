//! The stored catalog entries that bear on one order: the domains covering its names, the
//! organization, and the product with the FLEX pool. order-manager checks an order against
//! them before it calls Entrust.

use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::time::Instant;
use uuid::Uuid;

use super::list::{DomainEntry, OrganizationEntry, ProductEntry};
use crate::error::ServiceError;

/// Product type of the pool that any SSL product except PD_SSL can draw from.
const FLEX_POOL: &str = "FLEX";

/// The parts of an order the catalog lookup needs, with names as the order lists them.
#[derive(Debug, Clone)]
pub struct OrderingQuery {
    pub credential_id: Uuid,
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    pub product_type: String,
}

/// The entries found for an [`OrderingQuery`], none of them marked removed.
#[derive(Debug, Clone)]
pub struct OrderingCatalog {
    pub domains: Vec<DomainEntry>,
    pub organizations: Vec<OrganizationEntry>,
    pub products: Vec<ProductEntry>,
    /// End of the latest run that stored entries; `None` before the first one.
    pub synced_at: Option<OffsetDateTime>,
}

/// Returns every domain that could cover a name: the name itself and each parent domain, with
/// a wildcard's `*.` label left out, lower case, each once.
fn covering_domains(dns_names: &[String]) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    for name in dns_names {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut rest = name.strip_prefix("*.").unwrap_or(&name);
        loop {
            if !rest.is_empty() && !candidates.iter().any(|known| known == rest) {
                candidates.push(rest.to_owned());
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => break,
            }
        }
    }
    candidates
}

/// Maximum wait for a credential's first sync, when an order arrives while it still runs.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(30);

/// Time between two looks at a running first sync.
const FIRST_SYNC_POLL: Duration = Duration::from_millis(100);

/// Reads the entries of `query`, each kind through its natural-key index. When the
/// credential's first sync is still running (an order placed right after adding the
/// credential), waits for it to end, at most [`FIRST_SYNC_WAIT`].
pub async fn ordering_catalog(
    pool: &PgPool,
    query: &OrderingQuery,
) -> Result<OrderingCatalog, ServiceError> {
    wait_for_first_sync(pool, query.credential_id).await?;

    let candidates = covering_domains(&query.dns_names);
    let domains: Vec<DomainEntry> = sqlx::query_as(
        "SELECT id, name, client_id, verification_method, verification_status, ov_eligible,
                ov_expiry, ev_eligible, ev_expiry, first_seen_at, updated_at, removed_at
         FROM domains
         WHERE credential_id = $1 AND removed_at IS NULL AND name = ANY ($2)
         ORDER BY name, id",
    )
    .bind(query.credential_id)
    .bind(&candidates)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;

    let organizations: Vec<OrganizationEntry> = match &query.organization {
        Some(name) => sqlx::query_as(
            "SELECT id, name, client_id, verification_status, first_seen_at, updated_at,
                        removed_at
                 FROM organizations
                 WHERE credential_id = $1 AND removed_at IS NULL AND lower(name) = lower($2)
                 ORDER BY name, id",
        )
        .bind(query.credential_id)
        .bind(name.trim())
        .fetch_all(pool)
        .await
        .map_err(db_error)?,
        None => Vec::new(),
    };

    let product_types = [
        query.product_type.trim().to_ascii_uppercase(),
        FLEX_POOL.to_owned(),
    ];
    let products: Vec<ProductEntry> = sqlx::query_as(
        "SELECT product_type, remaining, used, total, unlimited, first_seen_at, updated_at,
                removed_at
         FROM products
         WHERE credential_id = $1 AND removed_at IS NULL AND product_type = ANY ($2)
         ORDER BY product_type",
    )
    .bind(query.credential_id)
    .bind(&product_types[..])
    .fetch_all(pool)
    .await
    .map_err(db_error)?;

    let synced_at: Option<OffsetDateTime> = sqlx::query_scalar(
        "SELECT max(finished_at) FROM sync_runs
         WHERE credential_id = $1 AND state IN ('succeeded', 'partial')",
    )
    .bind(query.credential_id)
    .fetch_one(pool)
    .await
    .map_err(db_error)?;

    Ok(OrderingCatalog {
        domains,
        organizations,
        products,
        synced_at,
    })
}

/// Returns once the credential has a sync that stored entries, has no running sync, or
/// [`FIRST_SYNC_WAIT`] has passed.
async fn wait_for_first_sync(pool: &PgPool, credential_id: Uuid) -> Result<(), ServiceError> {
    let deadline = Instant::now() + FIRST_SYNC_WAIT;
    loop {
        let (synced, running): (Option<bool>, Option<bool>) = sqlx::query_as(
            "SELECT bool_or(state IN ('succeeded', 'partial')), bool_or(state = 'running')
             FROM sync_runs WHERE credential_id = $1",
        )
        .bind(credential_id)
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
        let synced = synced.unwrap_or(false);
        let running = running.unwrap_or(false);
        if synced || !running || Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(FIRST_SYNC_POLL).await;
    }
}

fn db_error(error: sqlx::Error) -> ServiceError {
    ServiceError::Db(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn name_is_covered_by_itself_and_its_parents() {
        assert_eq!(
            covering_domains(&names(&["www.shop.Example.com."])),
            names(&[
                "www.shop.example.com",
                "shop.example.com",
                "example.com",
                "com"
            ])
        );
    }

    #[test]
    fn wildcard_starts_at_its_base_domain() {
        assert_eq!(
            covering_domains(&names(&["*.example.com", "example.com"])),
            names(&["example.com", "com"])
        );
    }
}
