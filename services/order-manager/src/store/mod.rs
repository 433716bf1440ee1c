//! The service's tables: `orders`, `order_history` and `import_jobs`.

pub mod claims;
pub mod history;
pub mod import_jobs;
pub mod imported;
pub mod orders;

/// The service's migrations, applied by [`certitude_platform::db::migrate`] after the
/// platform's outbox and inbox tables.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
