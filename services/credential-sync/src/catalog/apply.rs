//! Storing a fetched catalog: upsert every entry, then mark removed the stored entries the
//! catalog no longer lists.
//!
//! Each kind takes two statements whose entries travel as parallel arrays (`UNNEST`), so the
//! cost is independent of the number of round trips. An upsert changes a row (and its
//! `updated_at`) only when a field differs or the entry had been marked removed.

use entrust::model::{Domain, Organization, Product};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Catalog;

/// Counts of a stored catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppliedCatalog {
    /// Entries Entrust listed, per kind.
    pub organizations: u32,
    pub domains: u32,
    pub products: u32,
    /// Stored entries of any kind that the catalog no longer lists, marked removed now.
    pub removed: u32,
}

/// Stores `catalog` as the credential's current catalog at `now`, on `conn`, which should be
/// inside the caller's transaction so that a failure leaves the previous catalog whole.
pub async fn apply(
    conn: &mut PgConnection,
    credential_id: Uuid,
    catalog: &Catalog,
    now: OffsetDateTime,
) -> Result<AppliedCatalog, sqlx::Error> {
    let removed = upsert_organizations(conn, credential_id, &catalog.organizations, now).await?
        + upsert_domains(conn, credential_id, &catalog.domains, now).await?
        + upsert_products(conn, credential_id, &catalog.products, now).await?;
    Ok(AppliedCatalog {
        organizations: count(catalog.organizations.len()),
        domains: count(catalog.domains.len()),
        products: count(catalog.products.len()),
        removed: count(usize::try_from(removed).unwrap_or(usize::MAX)),
    })
}

fn count(length: usize) -> u32 {
    u32::try_from(length).unwrap_or(u32::MAX)
}

fn client_ids<T>(items: &[T], client_id: impl Fn(&T) -> Option<u32>) -> Vec<Option<i64>> {
    items
        .iter()
        .map(|item| client_id(item).map(i64::from))
        .collect()
}

fn database_count(value: Option<u64>) -> Option<i64> {
    value.map(|value| i64::try_from(value).unwrap_or(i64::MAX))
}

/// Upserts the organizations and returns how many stored ones were marked removed.
async fn upsert_organizations(
    conn: &mut PgConnection,
    credential_id: Uuid,
    organizations: &[Organization],
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    let names: Vec<&str> = organizations.iter().map(|o| o.name.as_str()).collect();
    let client_ids = client_ids(organizations, |o| o.client_id);
    let statuses: Vec<&str> = organizations
        .iter()
        .map(|o| o.verification_status.as_str())
        .collect();

    sqlx::query(
        "INSERT INTO organizations AS o (credential_id, name, client_id, verification_status,
                                         first_seen_at, updated_at)
         SELECT $1, entry.name, entry.client_id, entry.verification_status, $5, $5
         FROM UNNEST($2::text[], $3::bigint[], $4::text[])
             AS entry (name, client_id, verification_status)
         ON CONFLICT ON CONSTRAINT organizations_natural_key DO UPDATE
         SET verification_status = EXCLUDED.verification_status,
             updated_at = EXCLUDED.updated_at,
             removed_at = NULL
         WHERE (o.verification_status, o.removed_at)
             IS DISTINCT FROM (EXCLUDED.verification_status, NULL::timestamptz)",
    )
    .bind(credential_id)
    .bind(&names)
    .bind(&client_ids)
    .bind(&statuses)
    .bind(now)
    .execute(&mut *conn)
    .await?;

    let marked = sqlx::query(
        "UPDATE organizations AS o SET removed_at = $4, updated_at = $4
         WHERE o.credential_id = $1 AND o.removed_at IS NULL
           AND NOT EXISTS (
               SELECT 1 FROM UNNEST($2::text[], $3::bigint[]) AS seen (name, client_id)
               WHERE seen.name = o.name AND seen.client_id IS NOT DISTINCT FROM o.client_id)",
    )
    .bind(credential_id)
    .bind(&names)
    .bind(&client_ids)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(marked.rows_affected())
}

/// Upserts the domains and returns how many stored ones were marked removed.
async fn upsert_domains(
    conn: &mut PgConnection,
    credential_id: Uuid,
    domains: &[Domain],
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
    let client_ids = client_ids(domains, |d| d.client_id);
    let methods: Vec<Option<&str>> = domains
        .iter()
        .map(|d| d.verification_method.as_ref().map(|method| method.as_str()))
        .collect();
    let statuses: Vec<&str> = domains
        .iter()
        .map(|d| d.verification_status.as_str())
        .collect();
    let ov_eligible: Vec<Option<bool>> = domains.iter().map(|d| d.ov_eligible).collect();
    let ov_expiry: Vec<Option<OffsetDateTime>> = domains.iter().map(|d| d.ov_expiry).collect();
    let ev_eligible: Vec<Option<bool>> = domains.iter().map(|d| d.ev_eligible).collect();
    let ev_expiry: Vec<Option<OffsetDateTime>> = domains.iter().map(|d| d.ev_expiry).collect();

    sqlx::query(
        "INSERT INTO domains AS d (credential_id, name, client_id, verification_method,
                                   verification_status, ov_eligible, ov_expiry, ev_eligible,
                                   ev_expiry, first_seen_at, updated_at)
         SELECT $1, entry.name, entry.client_id, entry.verification_method,
                entry.verification_status, entry.ov_eligible, entry.ov_expiry,
                entry.ev_eligible, entry.ev_expiry, $10, $10
         FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::boolean[],
                     $7::timestamptz[], $8::boolean[], $9::timestamptz[])
             AS entry (name, client_id, verification_method, verification_status, ov_eligible,
                       ov_expiry, ev_eligible, ev_expiry)
         ON CONFLICT ON CONSTRAINT domains_natural_key DO UPDATE
         SET verification_method = EXCLUDED.verification_method,
             verification_status = EXCLUDED.verification_status,
             ov_eligible = EXCLUDED.ov_eligible,
             ov_expiry = EXCLUDED.ov_expiry,
             ev_eligible = EXCLUDED.ev_eligible,
             ev_expiry = EXCLUDED.ev_expiry,
             updated_at = EXCLUDED.updated_at,
             removed_at = NULL
         WHERE (d.verification_method, d.verification_status, d.ov_eligible, d.ov_expiry,
                d.ev_eligible, d.ev_expiry, d.removed_at)
             IS DISTINCT FROM (EXCLUDED.verification_method, EXCLUDED.verification_status,
                               EXCLUDED.ov_eligible, EXCLUDED.ov_expiry, EXCLUDED.ev_eligible,
                               EXCLUDED.ev_expiry, NULL::timestamptz)",
    )
    .bind(credential_id)
    .bind(&names)
    .bind(&client_ids)
    .bind(&methods)
    .bind(&statuses)
    .bind(&ov_eligible)
    .bind(&ov_expiry)
    .bind(&ev_eligible)
    .bind(&ev_expiry)
    .bind(now)
    .execute(&mut *conn)
    .await?;

    let marked = sqlx::query(
        "UPDATE domains AS d SET removed_at = $4, updated_at = $4
         WHERE d.credential_id = $1 AND d.removed_at IS NULL
           AND NOT EXISTS (
               SELECT 1 FROM UNNEST($2::text[], $3::bigint[]) AS seen (name, client_id)
               WHERE seen.name = d.name AND seen.client_id IS NOT DISTINCT FROM d.client_id)",
    )
    .bind(credential_id)
    .bind(&names)
    .bind(&client_ids)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(marked.rows_affected())
}

/// Upserts the products and returns how many stored ones were marked removed.
async fn upsert_products(
    conn: &mut PgConnection,
    credential_id: Uuid,
    products: &[Product],
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    let types: Vec<&str> = products.iter().map(|p| p.product_type.as_str()).collect();
    let remaining: Vec<Option<i64>> = products
        .iter()
        .map(|p| database_count(p.remaining))
        .collect();
    let used: Vec<Option<i64>> = products.iter().map(|p| database_count(p.used)).collect();
    let total: Vec<Option<i64>> = products.iter().map(|p| database_count(p.total)).collect();
    let unlimited: Vec<bool> = products.iter().map(|p| p.unlimited).collect();

    sqlx::query(
        "INSERT INTO products AS p (credential_id, product_type, remaining, used, total,
                                    unlimited, first_seen_at, updated_at)
         SELECT $1, entry.product_type, entry.remaining, entry.used, entry.total,
                entry.unlimited, $7, $7
         FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[])
             AS entry (product_type, remaining, used, total, unlimited)
         ON CONFLICT ON CONSTRAINT products_natural_key DO UPDATE
         SET remaining = EXCLUDED.remaining,
             used = EXCLUDED.used,
             total = EXCLUDED.total,
             unlimited = EXCLUDED.unlimited,
             updated_at = EXCLUDED.updated_at,
             removed_at = NULL
         WHERE (p.remaining, p.used, p.total, p.unlimited, p.removed_at)
             IS DISTINCT FROM (EXCLUDED.remaining, EXCLUDED.used, EXCLUDED.total,
                               EXCLUDED.unlimited, NULL::timestamptz)",
    )
    .bind(credential_id)
    .bind(&types)
    .bind(&remaining)
    .bind(&used)
    .bind(&total)
    .bind(&unlimited)
    .bind(now)
    .execute(&mut *conn)
    .await?;

    let marked = sqlx::query(
        "UPDATE products AS p SET removed_at = $3, updated_at = $3
         WHERE p.credential_id = $1 AND p.removed_at IS NULL
           AND p.product_type <> ALL ($2::text[])",
    )
    .bind(credential_id)
    .bind(&types)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(marked.rows_affected())
}
