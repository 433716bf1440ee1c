//! Metrics of the services, exported over OTLP/gRPC with the spans (see [`super::init`]).
//!
//! Instruments are created from the global meter provider on first use, so a process without
//! an OTLP endpoint records into a no-op provider at no cost. Attribute values are ids of
//! consumers, endpoint templates, products, statuses and outcomes: never a secret, a host name
//! of a customer or a certificate's subject.
//!
//! Gauges read from the database ([`run_database_gauges`]) describe the whole fleet, and every
//! replica of a service reports the same value: aggregate them with `max by (...)`, never with
//! `sum`. Counters and histograms are per replica: aggregate them with `sum`.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};
use sqlx::{Column, PgPool, Row};
use tokio_util::sync::CancellationToken;

/// Instrumentation scope of every Certitude instrument.
const METER_NAME: &str = "certitude";

/// Returns the meter every Certitude instrument belongs to.
pub fn meter() -> Meter {
    opentelemetry::global::meter(METER_NAME)
}

struct PlatformInstruments {
    redeliveries: Counter<u64>,
    dead_letters: Counter<u64>,
    renewals: Counter<u64>,
    sync_runs: Counter<u64>,
    issuance: Histogram<f64>,
}

fn instruments() -> &'static PlatformInstruments {
    static INSTRUMENTS: OnceLock<PlatformInstruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = meter();
        PlatformInstruments {
            redeliveries: meter
                .u64_counter("certitude.consumer.redeliveries")
                .with_description("Events delivered again to a durable consumer")
                .with_unit("{delivery}")
                .build(),
            dead_letters: meter
                .u64_counter("certitude.consumer.dead_letters")
                .with_description("Events moved to the dead-letter stream")
                .with_unit("{event}")
                .build(),
            renewals: meter
                .u64_counter("certitude.renewals")
                .with_description("Automatic renewal attempts by outcome")
                .with_unit("{renewal}")
                .build(),
            sync_runs: meter
                .u64_counter("certitude.sync.runs")
                .with_description("Catalog sync runs by outcome")
                .with_unit("{run}")
                .build(),
            issuance: meter
                .f64_histogram("certitude.issuance.duration")
                .with_description("Time from placing an order to its certificate in inventory")
                .with_unit("s")
                .with_boundaries(vec![
                    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
                    259200.0,
                ])
                .build(),
        }
    })
}

/// Starts the counters whose series should exist before their first event at zero, so that
/// `rate()` and `increase()` see them from the start: renewals by outcome. Called by
/// [`super::init`] once the meter provider is installed.
pub(super) fn start_counters_at_zero() {
    let outcomes = [
        RenewalOutcome::Succeeded,
        RenewalOutcome::Retrying,
        RenewalOutcome::Failed,
        RenewalOutcome::Rescheduled,
    ];
    for outcome in outcomes {
        instruments()
            .renewals
            .add(0, &[KeyValue::new("outcome", outcome.as_str())]);
    }
}

/// Starts the redelivery and dead-letter counters of `consumer` at zero.
fn start_consumer_counters_at_zero(consumer: &'static str) {
    let instruments = instruments();
    instruments
        .redeliveries
        .add(0, &[KeyValue::new("consumer", consumer)]);
    for reason in ["handler_failed", "undecodable"] {
        instruments.dead_letters.add(
            0,
            &[
                KeyValue::new("consumer", consumer),
                KeyValue::new("reason", reason),
            ],
        );
    }
}

/// Counts a delivery of an event to `consumer` after the first one.
pub fn record_redelivery(consumer: &str) {
    instruments()
        .redeliveries
        .add(1, &[KeyValue::new("consumer", consumer.to_owned())]);
}

/// Counts an event that `consumer` moved to the dead-letter stream, with the reason
/// (`handler_failed` or `undecodable`).
pub fn record_dead_letter(consumer: &str, reason: &str) {
    instruments().dead_letters.add(
        1,
        &[
            KeyValue::new("consumer", consumer.to_owned()),
            KeyValue::new("reason", reason.to_owned()),
        ],
    );
}

/// Outcome of one automatic renewal attempt, the `outcome` attribute of `certitude.renewals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalOutcome {
    /// The new order was placed.
    Succeeded,
    /// The attempt failed and another attempt follows.
    Retrying,
    /// The last allowed attempt failed.
    Failed,
    /// Entrust does not renew the certificate yet, so the attempt was rescheduled.
    Rescheduled,
}

impl RenewalOutcome {
    /// Returns the attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Rescheduled => "rescheduled",
        }
    }
}

/// Counts one automatic renewal attempt by its outcome. renewal-scheduler calls it once the
/// attempt's audit row and events committed.
pub fn record_renewal(outcome: RenewalOutcome) {
    instruments()
        .renewals
        .add(1, &[KeyValue::new("outcome", outcome.as_str())]);
}

/// Counts a finished catalog sync run by its outcome (`succeeded`, `partial`, `failed`).
pub fn record_sync_run(outcome: &str) {
    instruments()
        .sync_runs
        .add(1, &[KeyValue::new("outcome", outcome.to_owned())]);
}

/// Records the time from placing an order of `product` to its certificate entering the
/// inventory. Negative durations (clock skew between replicas) are recorded as zero.
pub fn record_issuance(product: &str, elapsed: time::Duration) {
    let seconds = elapsed.as_seconds_f64().max(0.0);
    instruments()
        .issuance
        .record(seconds, &[KeyValue::new("product", product.to_owned())]);
}

/// A gauge whose values a query reads from the service's database.
///
/// The query returns one row per data point: a `value` column (`BIGINT` or `DOUBLE
/// PRECISION`) and text columns that become the point's attributes by their names. It gets
/// the current time as `$1` (`TIMESTAMPTZ`), as service queries bind the clock instead of
/// calling `now()`.
#[derive(Debug, Clone)]
pub struct DatabaseGauge {
    /// Instrument name, such as `certitude.outbox.backlog`.
    pub name: &'static str,
    pub description: &'static str,
    /// UCUM unit, such as `s` or `{event}`.
    pub unit: &'static str,
    pub query: &'static str,
}

/// Returns the outbox gauges of a service: unpublished events and the age of the oldest one,
/// in seconds (0 when none waits).
pub fn outbox_gauges() -> Vec<DatabaseGauge> {
    vec![
        DatabaseGauge {
            name: "certitude.outbox.backlog",
            description: "Events written to the outbox and not yet published",
            unit: "{event}",
            query: "SELECT count(*)::bigint AS value FROM outbox \
                    WHERE published_at IS NULL AND $1::timestamptz IS NOT NULL",
        },
        DatabaseGauge {
            name: "certitude.outbox.oldest_age",
            description: "Age of the oldest unpublished outbox event",
            unit: "s",
            query: "SELECT coalesce(extract(epoch FROM $1::timestamptz - min(created_at)), 0)\
                    ::double precision AS value FROM outbox WHERE published_at IS NULL",
        },
    ]
}

/// How often [`run_database_gauges`] reads its queries. Each read is a few aggregate queries on
/// indexed columns.
pub const DATABASE_GAUGE_INTERVAL: Duration = Duration::from_secs(10);

/// Reads `gauges` from `pool` every [`DATABASE_GAUGE_INTERVAL`] and records them with the
/// attribute `service`, until `stop` is cancelled. A failed query is logged at warn and retried
/// next round.
pub async fn run_database_gauges(
    pool: PgPool,
    clock: certitude_clock::SharedClock,
    service: &'static str,
    gauges: Vec<DatabaseGauge>,
    stop: CancellationToken,
) {
    let meter = meter();
    let instruments: Vec<(DatabaseGauge, Gauge<f64>)> = gauges
        .into_iter()
        .map(|gauge| {
            let instrument = meter
                .f64_gauge(gauge.name)
                .with_description(gauge.description)
                .with_unit(gauge.unit)
                .build();
            (gauge, instrument)
        })
        .collect();
    let mut ticks = tokio::time::interval(DATABASE_GAUGE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let now = clock.now();
        for (gauge, instrument) in &instruments {
            if let Err(error) = record_gauge(&pool, now, service, gauge, instrument).await {
                tracing::warn!(
                    error = %error,
                    metric.name = gauge.name,
                    "failed to read a gauge from the database; retrying next round"
                );
            }
        }
    }
}

async fn record_gauge(
    pool: &PgPool,
    now: time::OffsetDateTime,
    service: &'static str,
    gauge: &DatabaseGauge,
    instrument: &Gauge<f64>,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(gauge.query))
        .bind(now)
        .fetch_all(pool)
        .await?;
    for row in rows {
        let mut value = 0.0;
        let mut attributes = vec![KeyValue::new("service", service)];
        for column in row.columns() {
            let name = column.name();
            if name == "value" {
                value = match row.try_get::<f64, _>(name) {
                    Ok(value) => value,
                    // Counts arrive as BIGINT; a gauge's magnitude stays far below 2^53.
                    Err(_) => row.try_get::<i64, _>(name)? as f64,
                };
            } else {
                let text: String = row.try_get(name)?;
                attributes.push(KeyValue::new(name.to_owned(), text));
            }
        }
        instrument.record(value, &attributes);
    }
    Ok(())
}

/// Reads the state of the durable consumers `durable_names` on `stream` every
/// [`DATABASE_GAUGE_INTERVAL`] and records `certitude.consumer.pending` (events not yet
/// delivered) and `certitude.consumer.ack_pending` (delivered, not yet acknowledged), until
/// `stop` is cancelled. Also starts each consumer's redelivery and dead-letter counters at
/// zero. JetStream keeps one state per durable consumer, so every replica
/// reports the same values: aggregate with `max by (consumer)`.
pub async fn run_consumer_lag(
    jetstream: async_nats::jetstream::Context,
    stream: String,
    durable_names: Vec<&'static str>,
    stop: CancellationToken,
) {
    let meter = meter();
    let pending = meter
        .u64_gauge("certitude.consumer.pending")
        .with_description("Events in the stream not yet delivered to the durable consumer")
        .with_unit("{event}")
        .build();
    let ack_pending = meter
        .u64_gauge("certitude.consumer.ack_pending")
        .with_description("Events delivered to the durable consumer and not yet acknowledged")
        .with_unit("{event}")
        .build();
    for durable_name in &durable_names {
        start_consumer_counters_at_zero(durable_name);
    }
    let mut ticks = tokio::time::interval(DATABASE_GAUGE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let stream = match jetstream.get_stream_no_info(&stream).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    stream.name = %stream,
                    "failed to read the event stream for consumer lag; retrying next round"
                );
                continue;
            }
        };
        for durable_name in &durable_names {
            match stream.consumer_info(durable_name).await {
                Ok(info) => {
                    let attributes = [KeyValue::new("consumer", *durable_name)];
                    pending.record(info.num_pending, &attributes);
                    let in_flight = u64::try_from(info.num_ack_pending).unwrap_or(u64::MAX);
                    ack_pending.record(in_flight, &attributes);
                }
                // The consumer is created when its task starts; until then there is no lag.
                Err(error) => tracing::debug!(
                    error = %error,
                    consumer = durable_name,
                    "failed to read a durable consumer's state for its lag"
                ),
            }
        }
    }
}
