//! Storing the organizations Entrust listed.

use entrust::model::Organization;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{KindCounts, client_id, mark_removed};
use crate::catalog::CatalogKind;
use crate::catalog::diff::{Stored, diff};

type OrganizationKey = (String, Option<i64>);

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: i64,
    name: String,
    client_id: Option<i64>,
    verification_status: String,
    removed: bool,
}

/// Stores the organizations as the credential's current ones at `now`.
pub async fn apply_organizations(
    conn: &mut PgConnection,
    credential_id: Uuid,
    organizations: &[Organization],
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
    let rows: Vec<OrganizationRow> = sqlx::query_as(
        "SELECT id, name, client_id, verification_status, removed_at IS NOT NULL AS removed
         FROM organizations WHERE credential_id = $1",
    )
    .bind(credential_id)
    .fetch_all(&mut *conn)
    .await?;
    let stored = rows.into_iter().map(|row| Stored {
        id: row.id,
        key: (row.name, row.client_id),
        fields: row.verification_status,
        removed: row.removed,
    });
    let changes = diff(
        organizations,
        stored.collect(),
        |o| -> OrganizationKey { (o.name.clone(), client_id(o.client_id)) },
        |o| o.verification_status.as_str().to_owned(),
    );

    if !changes.inserted.is_empty() {
        let entries = &changes.inserted;
        let names: Vec<&str> = entries.iter().map(|o| o.name.as_str()).collect();
        let client_ids: Vec<Option<i64>> = entries.iter().map(|o| client_id(o.client_id)).collect();
        let statuses: Vec<&str> = entries
            .iter()
            .map(|o| o.verification_status.as_str())
            .collect();
        sqlx::query(
            "INSERT INTO organizations (credential_id, name, client_id, verification_status,
                                        first_seen_at, updated_at)
             SELECT $1, entry.name, entry.client_id, entry.verification_status, $5, $5
             FROM UNNEST($2::text[], $3::bigint[], $4::text[])
                 AS entry (name, client_id, verification_status)",
        )
        .bind(credential_id)
        .bind(&names)
        .bind(&client_ids)
        .bind(&statuses)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    if !changes.updated.is_empty() {
        let ids: Vec<i64> = changes.updated.iter().map(|(id, _)| *id).collect();
        let statuses: Vec<&str> = changes
            .updated
            .iter()
            .map(|(_, o)| o.verification_status.as_str())
            .collect();
        sqlx::query(
            "UPDATE organizations AS o
             SET verification_status = entry.verification_status, updated_at = $3,
                 removed_at = NULL
             FROM UNNEST($1::bigint[], $2::text[]) AS entry (id, verification_status)
             WHERE o.id = entry.id",
        )
        .bind(&ids)
        .bind(&statuses)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    mark_removed(conn, CatalogKind::Organizations, &changes.removed, now).await?;
    Ok(KindCounts::new(organizations.len(), &changes))
}
