//! GetLicense and SetLicense at the gRPC edge.

use certitude_proto::inventory::v1 as proto;
use sqlx::PgPool;
use time::OffsetDateTime;
use tonic::Status;

use super::certificates::{non_empty, rfc3339};
use super::status::{db_status, invalid, lifecycle_status};
use crate::license::{self, License};
use crate::lifecycle::Lifecycle;

/// Returns the license with the held and waiting counts.
pub async fn get(pool: &PgPool) -> Result<proto::License, Status> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|error| db_status(error.into()))?;
    let stored = license::read(&mut *conn).await.map_err(db_status)?;
    let waiting = license::waiting(&mut *conn).await.map_err(db_status)?;
    Ok(to_proto(&stored, waiting))
}

/// Sets the licensed count, admits waiting certificates into the slots that frees, and
/// returns the license.
pub async fn set(
    pool: &PgPool,
    lifecycle: &Lifecycle,
    now: OffsetDateTime,
    request: proto::SetLicenseRequest,
) -> Result<proto::License, Status> {
    let licensed = match request.licensed {
        None => None,
        Some(count) => Some(i64::try_from(count).map_err(|_| {
            invalid(
                "licensed",
                format!("{count} is too large: use at most {}", i64::MAX),
            )
        })?),
    };
    let mut tx = pool
        .begin()
        .await
        .map_err(|error| db_status(error.into()))?;
    let stored = lifecycle
        .set_license(&mut tx, licensed, non_empty(&request.actor), now)
        .await
        .map_err(lifecycle_status)?;
    let waiting = license::waiting(&mut *tx).await.map_err(db_status)?;
    tx.commit().await.map_err(|error| db_status(error.into()))?;
    Ok(to_proto(&stored, waiting))
}

fn to_proto(license: &License, waiting: i64) -> proto::License {
    proto::License {
        licensed: license.licensed.map(i64::unsigned_abs),
        held: license.held.unsigned_abs(),
        waiting: waiting.unsigned_abs(),
        updated_at: license.updated_at.map(rfc3339).unwrap_or_default(),
        updated_by: license.updated_by.clone().unwrap_or_default(),
    }
}
