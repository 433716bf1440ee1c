//! Storing the fetched entries of one kind: upsert every entry, then mark removed the stored
//! entries Entrust no longer lists, and count what was added, changed and removed.
//!
//! Each kind takes two statements whose entries travel as parallel arrays (`UNNEST`), so the
//! number of round trips does not grow with the number of entries. An upsert changes a row
//! (and its `updated_at`) only when a field differs or the entry had been marked removed.
//! Postgres returns only the rows an upsert inserted or changed, and `xmax = 0` tells the
//! inserted ones apart. An entry listed again after being marked removed counts as added: a
//! common table expression counts such entries in the snapshot taken before the upsert.

use entrust::model::{Domain, Organization, Product};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// What storing one kind's entries did.
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

/// Row of an upsert's counting query: inserted rows, updated rows, and restored rows (updated
/// rows that had been marked removed).
type UpsertCounts = (i64, i64, i64);

impl KindCounts {
    fn new(listed: usize, (inserted, updated, restored): UpsertCounts, removed: u64) -> Self {
        let count = |value: i64| u32::try_from(value.max(0)).unwrap_or(u32::MAX);
        Self {
            listed: u32::try_from(listed).unwrap_or(u32::MAX),
            added: count(inserted + restored),
            changed: count(updated - restored),
            removed: u32::try_from(removed).unwrap_or(u32::MAX),
        }
    }
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

/// Stores the organizations as the credential's current ones at `now`, on `conn`, which
/// should be inside the caller's transaction so that a failure leaves the previous entries
/// whole.
pub async fn apply_organizations(
    conn: &mut PgConnection,
    credential_id: Uuid,
    organizations: &[Organization],
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
    let names: Vec<&str> = organizations.iter().map(|o| o.name.as_str()).collect();
    let client_ids = client_ids(organizations, |o| o.client_id);
    let statuses: Vec<&str> = organizations
        .iter()
        .map(|o| o.verification_status.as_str())
        .collect();

    let upserted: UpsertCounts = sqlx::query_as(
        "WITH entry AS (
             SELECT * FROM UNNEST($2::text[], $3::bigint[], $4::text[])
                 AS entry (name, client_id, verification_status)
         ), restored AS (
             SELECT count(*) AS count
             FROM organizations o JOIN entry
                 ON o.name = entry.name AND o.client_id IS NOT DISTINCT FROM entry.client_id
             WHERE o.credential_id = $1 AND o.removed_at IS NOT NULL
         ), upserted AS (
             INSERT INTO organizations AS o (credential_id, name, client_id,
                                             verification_status, first_seen_at, updated_at)
             SELECT $1, entry.name, entry.client_id, entry.verification_status, $5, $5
             FROM entry
             ON CONFLICT ON CONSTRAINT organizations_natural_key DO UPDATE
             SET verification_status = EXCLUDED.verification_status,
                 updated_at = EXCLUDED.updated_at,
                 removed_at = NULL
             WHERE (o.verification_status, o.removed_at)
                 IS DISTINCT FROM (EXCLUDED.verification_status, NULL::timestamptz)
             RETURNING o.xmax = 0 AS inserted
         )
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                (SELECT count FROM restored)
         FROM upserted",
    )
    .bind(credential_id)
    .bind(&names)
    .bind(&client_ids)
    .bind(&statuses)
    .bind(now)
    .fetch_one(&mut *conn)
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
    Ok(KindCounts::new(
        organizations.len(),
        upserted,
        marked.rows_affected(),
    ))
}

/// Stores the domains as the credential's current ones; see [`apply_organizations`].
pub async fn apply_domains(
    conn: &mut PgConnection,
    credential_id: Uuid,
    domains: &[Domain],
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
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

    let upserted: UpsertCounts = sqlx::query_as(
        "WITH entry AS (
             SELECT * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[],
                                  $6::boolean[], $7::timestamptz[], $8::boolean[],
                                  $9::timestamptz[])
                 AS entry (name, client_id, verification_method, verification_status,
                           ov_eligible, ov_expiry, ev_eligible, ev_expiry)
         ), restored AS (
             SELECT count(*) AS count
             FROM domains d JOIN entry
                 ON d.name = entry.name AND d.client_id IS NOT DISTINCT FROM entry.client_id
             WHERE d.credential_id = $1 AND d.removed_at IS NOT NULL
         ), upserted AS (
             INSERT INTO domains AS d (credential_id, name, client_id, verification_method,
                                       verification_status, ov_eligible, ov_expiry,
                                       ev_eligible, ev_expiry, first_seen_at, updated_at)
             SELECT $1, entry.name, entry.client_id, entry.verification_method,
                    entry.verification_status, entry.ov_eligible, entry.ov_expiry,
                    entry.ev_eligible, entry.ev_expiry, $10, $10
             FROM entry
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
                                   EXCLUDED.ov_eligible, EXCLUDED.ov_expiry,
                                   EXCLUDED.ev_eligible, EXCLUDED.ev_expiry, NULL::timestamptz)
             RETURNING d.xmax = 0 AS inserted
         )
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                (SELECT count FROM restored)
         FROM upserted",
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
    .fetch_one(&mut *conn)
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
    Ok(KindCounts::new(
        domains.len(),
        upserted,
        marked.rows_affected(),
    ))
}

/// Stores the products as the credential's current ones; see [`apply_organizations`].
pub async fn apply_products(
    conn: &mut PgConnection,
    credential_id: Uuid,
    products: &[Product],
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
    let types: Vec<&str> = products.iter().map(|p| p.product_type.as_str()).collect();
    let remaining: Vec<Option<i64>> = products
        .iter()
        .map(|p| database_count(p.remaining))
        .collect();
    let used: Vec<Option<i64>> = products.iter().map(|p| database_count(p.used)).collect();
    let total: Vec<Option<i64>> = products.iter().map(|p| database_count(p.total)).collect();
    let unlimited: Vec<bool> = products.iter().map(|p| p.unlimited).collect();

    let upserted: UpsertCounts = sqlx::query_as(
        "WITH entry AS (
             SELECT * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                                  $6::boolean[])
                 AS entry (product_type, remaining, used, total, unlimited)
         ), restored AS (
             SELECT count(*) AS count
             FROM products p JOIN entry ON p.product_type = entry.product_type
             WHERE p.credential_id = $1 AND p.removed_at IS NOT NULL
         ), upserted AS (
             INSERT INTO products AS p (credential_id, product_type, remaining, used, total,
                                        unlimited, first_seen_at, updated_at)
             SELECT $1, entry.product_type, entry.remaining, entry.used, entry.total,
                    entry.unlimited, $7, $7
             FROM entry
             ON CONFLICT ON CONSTRAINT products_natural_key DO UPDATE
             SET remaining = EXCLUDED.remaining,
                 used = EXCLUDED.used,
                 total = EXCLUDED.total,
                 unlimited = EXCLUDED.unlimited,
                 updated_at = EXCLUDED.updated_at,
                 removed_at = NULL
             WHERE (p.remaining, p.used, p.total, p.unlimited, p.removed_at)
                 IS DISTINCT FROM (EXCLUDED.remaining, EXCLUDED.used, EXCLUDED.total,
                                   EXCLUDED.unlimited, NULL::timestamptz)
             RETURNING p.xmax = 0 AS inserted
         )
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                (SELECT count FROM restored)
         FROM upserted",
    )
    .bind(credential_id)
    .bind(&types)
    .bind(&remaining)
    .bind(&used)
    .bind(&total)
    .bind(&unlimited)
    .bind(now)
    .fetch_one(&mut *conn)
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
    Ok(KindCounts::new(
        products.len(),
        upserted,
        marked.rows_affected(),
    ))
}
