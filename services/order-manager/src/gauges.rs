//! Gauges order-manager reads from its database: orders by state and product, and the outbox.
//! Every replica reports the same values (see `certitude_platform::telemetry::metrics`).

use certitude_platform::telemetry::metrics::{DatabaseGauge, outbox_gauges};

/// Returns every gauge of order-manager.
pub fn all() -> Vec<DatabaseGauge> {
    let mut gauges = outbox_gauges();
    gauges.push(DatabaseGauge {
        name: "certitude.orders",
        description: "Orders not deleted from Certitude, by state and product",
        unit: "{order}",
        query: "SELECT status, product, count(*)::bigint AS value FROM orders \
                WHERE deleted_at IS NULL AND $1::timestamptz IS NOT NULL \
                GROUP BY status, product",
    });
    gauges
}
