//! Storing the products Entrust listed.

use entrust::model::Product;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{KindCounts, database_count, mark_removed};
use crate::catalog::CatalogKind;
use crate::catalog::diff::{Stored, diff};

/// The compared fields of a product: remaining, used and total counts, and whether unlimited.
type ProductFields = (Option<i64>, Option<i64>, Option<i64>, bool);

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i64,
    product_type: String,
    remaining: Option<i64>,
    used: Option<i64>,
    total: Option<i64>,
    unlimited: bool,
    removed: bool,
}

fn product_fields(p: &Product) -> ProductFields {
    (
        database_count(p.remaining),
        database_count(p.used),
        database_count(p.total),
        p.unlimited,
    )
}

/// The counts of some products, as parallel arrays.
struct ProductColumns {
    remaining: Vec<Option<i64>>,
    used: Vec<Option<i64>>,
    total: Vec<Option<i64>>,
    unlimited: Vec<bool>,
}

impl ProductColumns {
    fn of<'a>(products: impl Iterator<Item = &'a Product>) -> Self {
        let mut columns = Self {
            remaining: Vec::new(),
            used: Vec::new(),
            total: Vec::new(),
            unlimited: Vec::new(),
        };
        for (remaining, used, total, unlimited) in products.map(product_fields) {
            columns.remaining.push(remaining);
            columns.used.push(used);
            columns.total.push(total);
            columns.unlimited.push(unlimited);
        }
        columns
    }
}

/// Stores the products as the credential's current ones at `now`.
pub async fn apply_products(
    conn: &mut PgConnection,
    credential_id: Uuid,
    products: &[Product],
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
    let rows: Vec<ProductRow> = sqlx::query_as(
        "SELECT id, product_type, remaining, used, total, unlimited,
                removed_at IS NOT NULL AS removed
         FROM products WHERE credential_id = $1",
    )
    .bind(credential_id)
    .fetch_all(&mut *conn)
    .await?;
    let stored = rows.into_iter().map(|row| Stored {
        id: row.id,
        key: row.product_type,
        fields: (row.remaining, row.used, row.total, row.unlimited),
        removed: row.removed,
    });
    let changes = diff(
        products,
        stored.collect(),
        |p| p.product_type.clone(),
        product_fields,
    );

    if !changes.inserted.is_empty() {
        let types: Vec<&str> = changes
            .inserted
            .iter()
            .map(|p| p.product_type.as_str())
            .collect();
        let columns = ProductColumns::of(changes.inserted.iter().copied());
        sqlx::query(
            "INSERT INTO products (credential_id, product_type, remaining, used, total,
                                   unlimited, first_seen_at, updated_at)
             SELECT $1, entry.*, $7, $7
             FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[])
                 AS entry (product_type, remaining, used, total, unlimited)",
        )
        .bind(credential_id)
        .bind(&types)
        .bind(&columns.remaining)
        .bind(&columns.used)
        .bind(&columns.total)
        .bind(&columns.unlimited)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    if !changes.updated.is_empty() {
        let ids: Vec<i64> = changes.updated.iter().map(|(id, _)| *id).collect();
        let columns = ProductColumns::of(changes.updated.iter().map(|(_, p)| *p));
        sqlx::query(
            "UPDATE products AS p
             SET remaining = entry.remaining, used = entry.used, total = entry.total,
                 unlimited = entry.unlimited, updated_at = $6, removed_at = NULL
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::boolean[])
                 AS entry (id, remaining, used, total, unlimited)
             WHERE p.id = entry.id",
        )
        .bind(&ids)
        .bind(&columns.remaining)
        .bind(&columns.used)
        .bind(&columns.total)
        .bind(&columns.unlimited)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    mark_removed(conn, CatalogKind::Products, &changes.removed, now).await?;
    Ok(KindCounts::new(products.len(), &changes))
}
