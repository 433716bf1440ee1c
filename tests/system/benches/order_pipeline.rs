//! Benchmark: orders per second and per-order latency from the create request until the
//! inventory stores the certificate, with every service in process (see
//! `certitude_system_tests::bench::pipeline`).
//!
//! `cargo bench -p certitude-system-tests --bench order_pipeline` times 200 orders;
//! `CERTITUDE_BENCH_SCALE=small` times 20, as the `bench_smoke` test does. It needs the local
//! Postgres and NATS, and prints a Markdown table for docs/BENCHMARKS.md.

use std::time::Duration;

use certitude_system_tests::bench::pipeline::{self, CONCURRENCY, PRODUCT, WARM_UP_ORDERS};
use certitude_system_tests::bench::{Scale, percentile};

/// The allocator of the `certitude` binary, so the services run here as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(pipeline::run(scale))?;

    println!(
        "{} {PRODUCT} orders with ECDSA P-256 keys, {CONCURRENCY} in flight, after {WARM_UP_ORDERS} \
         warm-up orders; {} of them ISSUED and in the inventory",
        report.orders, report.in_inventory
    );
    println!();
    println!("| Measure | Orders | Orders/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| create request to certificate in the inventory | {} | {:.1} | {} | {} |",
        report.orders,
        report.rate(),
        millis(percentile(&report.latencies, 50)),
        millis(percentile(&report.latencies, 99)),
    );
    println!(
        "| create request to CertificateIssued on NATS | {} | | {} | {} |",
        report.orders,
        millis(percentile(&report.issued_latencies, 50)),
        millis(percentile(&report.issued_latencies, 99)),
    );
    println!(
        "| create request to `201 Created` | {} | | {} | {} |",
        report.orders,
        millis(percentile(&report.create_latencies, 50)),
        millis(percentile(&report.create_latencies, 99)),
    );
    println!();
    println!(
        "{:.2} s from the first request to the last certificate",
        report.elapsed.as_secs_f64()
    );
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
