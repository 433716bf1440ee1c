//! Gauges inventory reads from its database: certificates close to expiry, license use and the
//! outbox. Every replica reports the same values (see `certitude_platform::telemetry::metrics`).

use certitude_platform::telemetry::metrics::{DatabaseGauge, outbox_gauges};

/// Returns every gauge of inventory.
pub fn all() -> Vec<DatabaseGauge> {
    let mut gauges = outbox_gauges();
    gauges.push(DatabaseGauge {
        name: "certitude.certificates.expiring",
        description: "Held, active certificates without a successor that expire within the window",
        unit: "{certificate}",
        query: "SELECT w.within, count(c.id)::bigint AS value \
                FROM (VALUES ('7d', interval '7 days'), ('30d', interval '30 days')) \
                    AS w(within, span) \
                LEFT JOIN certificates c ON c.inventory_state = 'held' \
                    AND c.status = 'active' AND c.superseded_by IS NULL \
                    AND c.not_after > $1 AND c.not_after <= $1 + w.span \
                GROUP BY w.within",
    });
    gauges.push(DatabaseGauge {
        name: "certitude.license.held",
        description: "Certificates counted against the license",
        unit: "{certificate}",
        query: "SELECT held AS value FROM license WHERE $1::timestamptz IS NOT NULL",
    });
    gauges.push(DatabaseGauge {
        name: "certitude.license.limit",
        description: "Certificates the license allows; absent when the license has no limit",
        unit: "{certificate}",
        query: "SELECT licensed AS value FROM license \
                WHERE licensed IS NOT NULL AND $1::timestamptz IS NOT NULL",
    });
    gauges
}
