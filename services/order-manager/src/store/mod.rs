//! The service's tables: `orders` (deleted ones included, as tombstones, and with the inventory
//! state of their certificate), `order_history`, `import_jobs` and `task_leases`.

pub mod claims;
pub mod history;
pub mod import_jobs;
pub mod imported;
pub mod inventory_state;
pub mod orders;
pub mod portal;
pub mod task_leases;

/// The service's migrations, applied by [`certitude_platform::db::migrate`] after the
/// platform's outbox and inbox tables.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
