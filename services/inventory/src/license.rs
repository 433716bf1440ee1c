//! The `license` table: the licensed count and the number of certificates counted against it.
//!
//! The table has one row. Every transaction that admits, supersedes or removes a certificate,
//! or changes the licensed count, first locks that row with [`lock`]. Two inventory replicas
//! that store a certificate at the same time therefore decide one after the other, so the last
//! free slot goes to exactly one of them, and `held` stays equal to the number of held
//! certificates that are not superseded.

use certitude_platform::db::DbError;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

/// The license row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct License {
    /// Certificates the license allows; `None` for no limit, the state of a new installation.
    pub licensed: Option<i64>,
    /// Certificates counted against the license: held and not superseded.
    pub held: i64,
    pub updated_at: Option<OffsetDateTime>,
    pub updated_by: Option<String>,
}

impl License {
    /// Returns whether one more certificate may be held.
    pub fn has_free_slot(&self) -> bool {
        self.licensed.is_none_or(|licensed| self.held < licensed)
    }

    /// Returns how many more certificates may be held; `None` when there is no limit.
    pub fn free_slots(&self) -> Option<i64> {
        self.licensed
            .map(|licensed| licensed.saturating_sub(self.held).max(0))
    }
}

/// Returns the license row locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection) -> Result<License, DbError> {
    let license = sqlx::query_as(
        "SELECT licensed, held, updated_at, updated_by FROM license WHERE singleton FOR UPDATE",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(license)
}

/// Returns the license row without locking it.
pub async fn read(executor: impl PgExecutor<'_>) -> Result<License, DbError> {
    let license = sqlx::query_as(
        "SELECT licensed, held, updated_at, updated_by FROM license WHERE singleton",
    )
    .fetch_one(executor)
    .await?;
    Ok(license)
}

/// Stores the held count. Call it under [`lock`].
pub async fn set_held(conn: &mut PgConnection, held: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE license SET held = $1 WHERE singleton")
        .bind(held)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores the licensed count (`None` for no limit), who set it and when. Call it under
/// [`lock`].
pub async fn set_licensed(
    conn: &mut PgConnection,
    licensed: Option<i64>,
    actor: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE license SET licensed = $1, updated_by = $2, updated_at = $3 WHERE singleton",
    )
    .bind(licensed)
    .bind(actor)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Returns the number of waiting certificates.
pub async fn waiting(executor: impl PgExecutor<'_>) -> Result<i64, DbError> {
    let waiting =
        sqlx::query_scalar("SELECT count(*) FROM certificates WHERE inventory_state = 'waiting'")
            .fetch_one(executor)
            .await?;
    Ok(waiting)
}

/// Counts the held certificates that are not superseded, stores that as the held count and
/// returns it. For rows written in bulk without the inventory's code, such as a benchmark's.
pub async fn recount(conn: &mut PgConnection) -> Result<i64, DbError> {
    let held = sqlx::query_scalar(
        "UPDATE license
         SET held = (SELECT count(*) FROM certificates
                     WHERE inventory_state = 'held' AND superseded_by IS NULL)
         WHERE singleton
         RETURNING held",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license(licensed: Option<i64>, held: i64) -> License {
        License {
            licensed,
            held,
            updated_at: None,
            updated_by: None,
        }
    }

    #[test]
    fn unlimited_license_always_has_a_slot() {
        assert!(license(None, 1_000_000).has_free_slot());
        assert_eq!(license(None, 5).free_slots(), None);
    }

    #[test]
    fn slot_is_free_below_the_count_only() {
        assert!(license(Some(3), 2).has_free_slot());
        assert!(!license(Some(3), 3).has_free_slot());
        assert_eq!(license(Some(3), 1).free_slots(), Some(2));
    }

    #[test]
    fn count_above_license_leaves_no_slot() {
        assert!(!license(Some(2), 5).has_free_slot());
        assert_eq!(license(Some(2), 5).free_slots(), Some(0));
    }
}
