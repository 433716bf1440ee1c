//! Reading one credential's stored catalog a page at a time, ordered by name (organizations,
//! domains) or product type, leaving out removed entries unless asked.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ServiceError;
use crate::paging::{PageLimits, decode_token, encode_token};

/// Page sizes of the catalog lists.
pub const CATALOG_PAGES: PageLimits = PageLimits {
    default: 200,
    max: 1000,
};

/// A page request for one credential's catalog.
#[derive(Debug, Clone)]
pub struct CatalogQuery {
    pub credential_id: Uuid,
    /// Requested page size; 0 for the default.
    pub page_size: u32,
    /// The previous page's `next_page_token`; empty for the first page.
    pub page_token: String,
    /// Whether entries that vanished from the account are listed too.
    pub include_removed: bool,
}

/// One page of entries and the token of the next page (empty on the last page).
#[derive(Debug, Clone)]
pub struct CatalogPage<T> {
    pub entries: Vec<T>,
    pub next_page_token: String,
}

/// A stored organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationEntry {
    id: i64,
    pub name: String,
    pub client_id: Option<i64>,
    pub verification_status: String,
    pub first_seen_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub removed_at: Option<OffsetDateTime>,
}

/// A stored domain.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainEntry {
    id: i64,
    pub name: String,
    pub client_id: Option<i64>,
    pub verification_method: Option<String>,
    pub verification_status: String,
    pub ov_eligible: Option<bool>,
    pub ov_expiry: Option<OffsetDateTime>,
    pub ev_eligible: Option<bool>,
    pub ev_expiry: Option<OffsetDateTime>,
    pub first_seen_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub removed_at: Option<OffsetDateTime>,
}

/// A stored product.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductEntry {
    pub product_type: String,
    pub remaining: Option<i64>,
    pub used: Option<i64>,
    pub total: Option<i64>,
    pub unlimited: bool,
    pub first_seen_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub removed_at: Option<OffsetDateTime>,
}

/// Lists organizations by name.
pub async fn list_organizations(
    pool: &PgPool,
    query: &CatalogQuery,
) -> Result<CatalogPage<OrganizationEntry>, ServiceError> {
    let size = CATALOG_PAGES.size(query.page_size);
    let (after_name, after_id) = name_key(&query.page_token)?;
    let rows: Vec<OrganizationEntry> = sqlx::query_as(
        "SELECT id, name, client_id, verification_status, first_seen_at, updated_at, removed_at
         FROM organizations
         WHERE credential_id = $1 AND ($2 OR removed_at IS NULL)
           AND ($3::text IS NULL OR (name, id) > ($3, $4))
         ORDER BY name, id
         LIMIT $5",
    )
    .bind(query.credential_id)
    .bind(query.include_removed)
    .bind(after_name)
    .bind(after_id)
    .bind(i64::from(size) + 1)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(into_page(rows, size, |row| {
        vec![row.name.clone(), row.id.to_string()]
    }))
}

/// Lists domains by name.
pub async fn list_domains(
    pool: &PgPool,
    query: &CatalogQuery,
) -> Result<CatalogPage<DomainEntry>, ServiceError> {
    let size = CATALOG_PAGES.size(query.page_size);
    let (after_name, after_id) = name_key(&query.page_token)?;
    let rows: Vec<DomainEntry> = sqlx::query_as(
        "SELECT id, name, client_id, verification_method, verification_status, ov_eligible,
                ov_expiry, ev_eligible, ev_expiry, first_seen_at, updated_at, removed_at
         FROM domains
         WHERE credential_id = $1 AND ($2 OR removed_at IS NULL)
           AND ($3::text IS NULL OR (name, id) > ($3, $4))
         ORDER BY name, id
         LIMIT $5",
    )
    .bind(query.credential_id)
    .bind(query.include_removed)
    .bind(after_name)
    .bind(after_id)
    .bind(i64::from(size) + 1)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(into_page(rows, size, |row| {
        vec![row.name.clone(), row.id.to_string()]
    }))
}

/// Lists products by product type, which is unique per credential.
pub async fn list_products(
    pool: &PgPool,
    query: &CatalogQuery,
) -> Result<CatalogPage<ProductEntry>, ServiceError> {
    let size = CATALOG_PAGES.size(query.page_size);
    let after_type = decode_token(&query.page_token, 1)?.and_then(|mut key| key.pop());
    let rows: Vec<ProductEntry> = sqlx::query_as(
        "SELECT product_type, remaining, used, total, unlimited, first_seen_at, updated_at,
                removed_at
         FROM products
         WHERE credential_id = $1 AND ($2 OR removed_at IS NULL)
           AND ($3::text IS NULL OR product_type > $3)
         ORDER BY product_type
         LIMIT $4",
    )
    .bind(query.credential_id)
    .bind(query.include_removed)
    .bind(after_type)
    .bind(i64::from(size) + 1)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    Ok(into_page(rows, size, |row| vec![row.product_type.clone()]))
}

fn db_error(error: sqlx::Error) -> ServiceError {
    ServiceError::Db(error.into())
}

/// Decodes a `[name, id]` page token.
fn name_key(token: &str) -> Result<(Option<String>, Option<i64>), ServiceError> {
    let Some(key) = decode_token(token, 2)? else {
        return Ok((None, None));
    };
    let id = key[1].parse::<i64>().map_err(|_| {
        ServiceError::invalid(
            "page_token",
            "is not a token this list returned: pass its next_page_token",
        )
    })?;
    Ok((Some(key[0].clone()), Some(id)))
}

/// Cuts the extra row that shows another page exists and encodes the last row's key.
fn into_page<T>(mut rows: Vec<T>, size: u32, key: impl Fn(&T) -> Vec<String>) -> CatalogPage<T> {
    let size = size as usize;
    let next_page_token = if rows.len() > size {
        rows.truncate(size);
        rows.last()
            .map(|row| encode_token(&key(row)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    CatalogPage {
        entries: rows,
        next_page_token,
    }
}
