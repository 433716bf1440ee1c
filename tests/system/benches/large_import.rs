//! Benchmark: importing the large scenario's 100,000 orders until the inventory stores every
//! certificate, next to a bare client that reads the same data from the same simulator (see
//! `certitude_system_tests::bench::import`).
//!
//! `cargo bench -p certitude-system-tests --bench large_import` imports 100,000 orders;
//! `CERTITUDE_BENCH_SCALE=small` imports 2,000, as the `bench_smoke` test does. It needs the
//! local Postgres and NATS, and prints Markdown tables for docs/BENCHMARKS.md.

use std::time::Duration;

use certitude_system_tests::bench::Scale;
use certitude_system_tests::bench::import::{self, ImportReport, PAGE_SIZE, rate};

/// The allocator of the `certitude` binary, so the services run here as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(import::run(scale))?;
    check(&report)?;
    print_summary(&report);
    print_samples(&report);
    Ok(())
}

/// Fails when a side did not read or store what the scenario contains, so that no rate of a
/// broken run is reported.
fn check(report: &ImportReport) -> anyhow::Result<()> {
    let orders = report.scenario_orders as u64;
    let certificates = report.bare.certificates as u64;
    let counts = &report.first.counts;
    let consistent = report.bare.orders == report.scenario_orders
        && counts.orders == orders
        && counts.imported == orders
        && counts.failed == 0
        && counts.issued == certificates
        && report.first.in_inventory == i64::try_from(certificates)?
        && report.repeat.counts.orders == orders
        && report.repeat.counts.issued == 0;
    if !consistent {
        anyhow::bail!("the counts do not match the scenario: {report:#?}");
    }
    Ok(())
}

fn print_summary(report: &ImportReport) {
    let orders = report.scenario_orders;
    println!(
        "{orders} orders, {} with a certificate; pages of {PAGE_SIZE}; no rate limit on either side",
        report.bare.certificates
    );

    println!();
    println!("| Side | Time | Orders/s | Share of the bare rate |");
    println!("|---|---:|---:|---:|");
    let bare_rate = rate(orders, report.bare.elapsed);
    print_row(
        "bare client, first walk (simulator signs)",
        orders,
        report.cold_walk.elapsed,
        bare_rate,
    );
    print_row(
        "bare client, listing and details",
        orders,
        report.bare.elapsed,
        bare_rate,
    );
    print_row(
        "import: job ended (order-manager)",
        orders,
        report.first.job_elapsed,
        bare_rate,
    );
    print_row(
        "import: job ended and all certificates in the inventory",
        orders,
        report.first.elapsed,
        bare_rate,
    );

    // A repeat import reads no details, so it is compared with the listing part of the walk.
    println!();
    println!("| Side | Time | Orders/s | Share of the bare listing rate |");
    println!("|---|---:|---:|---:|");
    let listing_rate = rate(orders, report.bare.listing);
    print_row(
        "bare client, listing part of the walk",
        orders,
        report.bare.listing,
        listing_rate,
    );
    print_row(
        "repeat import of the unchanged account: job ended",
        orders,
        report.repeat.job_elapsed,
        listing_rate,
    );
}

fn print_row(label: &str, orders: usize, elapsed: Duration, reference_rate: f64) {
    let side_rate = rate(orders, elapsed);
    println!(
        "| {label} | {:.1} s | {side_rate:.0} | {:.2} |",
        elapsed.as_secs_f64(),
        side_rate / reference_rate
    );
}

fn print_samples(report: &ImportReport) {
    let samples = &report.first.samples;
    let max_unpublished = samples
        .iter()
        .map(|sample| sample.unpublished)
        .max()
        .unwrap_or_default();
    let step = (samples.len() / 20).max(1);
    println!();
    println!(
        "Progress of the first import, sampled about once a second ({} samples, {} shown); \
         at most {max_unpublished} events were unpublished in one sample:",
        samples.len(),
        samples.iter().step_by(step).count()
    );
    println!();
    println!(
        "| Time | Orders handled | Certificates issued | Unpublished events | Held in the inventory |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for sample in samples.iter().step_by(step) {
        println!(
            "| {:.0} s | {} | {} | {} | {} |",
            sample.at.as_secs_f64(),
            sample.orders,
            sample.issued,
            sample.unpublished,
            sample.in_inventory
        );
    }
}
