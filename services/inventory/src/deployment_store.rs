//! The `deployments` table: where each certificate is deployed, and which locations still need
//! a certificate deployed.

use certitude_platform::db::DbError;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

/// A location, as recorded: empty strings and port 0 stand for "not recorded".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub system: String,
    pub note: String,
}

/// A deployment to insert.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub id: Uuid,
    pub certificate_id: Uuid,
    pub location: Location,
    pub needs_deployment: bool,
    /// The predecessor's location this one is copied from.
    pub inherited_from: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
}

/// The columns of [`DeploymentRecord`] from `deployments d` joined with `certificates c`.
macro_rules! deployment_columns {
    () => {
        "d.id, d.certificate_id, d.host, d.port, d.path, d.system, d.note, d.needs_deployment, \
         d.inherited_from, d.created_at, d.created_by, d.confirmed_at, d.confirmed_by, \
         c.common_name AS certificate_common_name, c.not_after AS certificate_not_after"
    };
}

/// A stored deployment, with its certificate's common name and expiry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeploymentRecord {
    pub id: Uuid,
    pub certificate_id: Uuid,
    pub host: String,
    pub port: i32,
    pub path: String,
    pub system: String,
    pub note: String,
    pub needs_deployment: bool,
    pub inherited_from: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    pub confirmed_at: Option<OffsetDateTime>,
    pub confirmed_by: Option<String>,
    pub certificate_common_name: Option<String>,
    pub certificate_not_after: OffsetDateTime,
}

/// Position of a deployment in the oldest-first order of lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

/// Filter of [`list_page`].
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    /// One certificate's locations; `None` for those of every certificate that is not removed.
    pub certificate_id: Option<Uuid>,
    pub needs_deployment: Option<bool>,
}

/// Inserts `deployment` and returns it; `None` when the certificate has that location already.
/// A location added as deployed is confirmed by its creator at once.
pub async fn insert(
    conn: &mut PgConnection,
    deployment: &NewDeployment,
) -> Result<Option<DeploymentRecord>, DbError> {
    let location = &deployment.location;
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO deployments (id, certificate_id, host, port, path, system, note,
                                  needs_deployment, created_at, created_by, confirmed_at,
                                  confirmed_by, inherited_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 CASE WHEN $8 THEN NULL ELSE $9 END, CASE WHEN $8 THEN NULL ELSE $10 END, $11)
         ON CONFLICT (certificate_id, host, port, path, system) DO NOTHING
         RETURNING id",
    )
    .bind(deployment.id)
    .bind(deployment.certificate_id)
    .bind(&location.host)
    .bind(i32::from(location.port))
    .bind(&location.path)
    .bind(&location.system)
    .bind(&location.note)
    .bind(deployment.needs_deployment)
    .bind(deployment.created_at)
    .bind(&deployment.created_by)
    .bind(deployment.inherited_from)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => get(&mut *conn, deployment.certificate_id, id).await,
        None => Ok(None),
    }
}

/// Returns the deployment of `certificate_id` with `location`'s host, port, path and system.
pub async fn find_location(
    executor: impl PgExecutor<'_>,
    certificate_id: Uuid,
    location: &Location,
) -> Result<Option<DeploymentRecord>, DbError> {
    let record = sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN certificates c ON c.id = d.certificate_id
          WHERE d.certificate_id = $1 AND d.host = $2 AND d.port = $3 AND d.path = $4
            AND d.system = $5"
    ))
    .bind(certificate_id)
    .bind(&location.host)
    .bind(i32::from(location.port))
    .bind(&location.path)
    .bind(&location.system)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Copies every location of `from` to `to` as needing deployment, each linked to the location
/// it came from, and returns the copies, oldest first. A location `to` has already is left as
/// it is.
pub async fn copy_as_needed(
    conn: &mut PgConnection,
    from: Uuid,
    to: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<DeploymentRecord>, DbError> {
    let filter = DeploymentFilter {
        certificate_id: Some(from),
        needs_deployment: None,
    };
    let sources = list_page(&mut *conn, &filter, None, u32::MAX).await?;
    let mut copies = Vec::with_capacity(sources.len());
    for source in sources {
        let copy = NewDeployment {
            id: Uuid::now_v7(),
            certificate_id: to,
            location: Location {
                host: source.host,
                port: u16::try_from(source.port).unwrap_or(0),
                path: source.path,
                system: source.system,
                note: source.note,
            },
            needs_deployment: true,
            inherited_from: Some(source.id),
            created_at: now,
            created_by: None,
        };
        if let Some(record) = insert(&mut *conn, &copy).await? {
            copies.push(record);
        }
    }
    Ok(copies)
}

/// Returns deployment `id` of certificate `certificate_id`, if both match.
pub async fn get(
    executor: impl PgExecutor<'_>,
    certificate_id: Uuid,
    id: Uuid,
) -> Result<Option<DeploymentRecord>, DbError> {
    let record = sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN certificates c ON c.id = d.certificate_id
          WHERE d.id = $1 AND d.certificate_id = $2"
    ))
    .bind(id)
    .bind(certificate_id)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Marks deployment `id` of `certificate_id` as deployed unless it is already, and returns it.
pub async fn confirm(
    conn: &mut PgConnection,
    certificate_id: Uuid,
    id: Uuid,
    actor: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<DeploymentRecord>, DbError> {
    sqlx::query(
        "UPDATE deployments
         SET needs_deployment = FALSE, confirmed_at = $3, confirmed_by = $4
         WHERE id = $1 AND certificate_id = $2 AND needs_deployment",
    )
    .bind(id)
    .bind(certificate_id)
    .bind(now)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    get(&mut *conn, certificate_id, id).await
}

/// Deletes deployment `id` of `certificate_id` and returns it as it was.
pub async fn delete(
    conn: &mut PgConnection,
    certificate_id: Uuid,
    id: Uuid,
) -> Result<Option<DeploymentRecord>, DbError> {
    let Some(record) = get(&mut *conn, certificate_id, id).await? else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM deployments WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(record))
}

/// Returns up to `limit` deployments matching `filter`, oldest first, after `after`.
pub async fn list_page(
    executor: impl PgExecutor<'_>,
    filter: &DeploymentFilter,
    after: Option<Position>,
    limit: u32,
) -> Result<Vec<DeploymentRecord>, DbError> {
    let mut query = QueryBuilder::<Postgres>::new(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN certificates c ON c.id = d.certificate_id WHERE TRUE"
    ));
    match filter.certificate_id {
        Some(certificate_id) => {
            query
                .push(" AND d.certificate_id = ")
                .push_bind(certificate_id);
        }
        None => {
            query.push(" AND c.inventory_state <> 'removed'");
        }
    }
    if let Some(needs_deployment) = filter.needs_deployment {
        query
            .push(" AND d.needs_deployment = ")
            .push_bind(needs_deployment);
    }
    if let Some(position) = after {
        query
            .push(" AND (d.created_at, d.id) > (")
            .push_bind(position.created_at)
            .push(", ")
            .push_bind(position.id)
            .push(")");
    }
    query
        .push(" ORDER BY d.created_at, d.id LIMIT ")
        .push_bind(i64::from(limit));
    let records = query.build_query_as().fetch_all(executor).await?;
    Ok(records)
}
