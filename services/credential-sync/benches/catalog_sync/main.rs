//! Benchmark: a full catalog sync by credential-sync next to a bare client paging the same
//! simulator's `GET /domains` with the same page size (see `measure`).
//!
//! `cargo bench -p certitude-credential-sync --bench catalog_sync` measures the large
//! scenario's 10,000 domains; `CERTITUDE_BENCH_SCALE=small` measures 1,000, as the smoke test
//! in `tests/it` does. It needs the local Postgres and NATS, and prints a Markdown table for
//! docs/BENCHMARKS.md.

mod measure;

use measure::{PAGE_SIZE, Scale, Side};

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure::run(scale))?;

    let bare_rate = report.bare.rate();
    println!(
        "{} domains, pages of {PAGE_SIZE}, no rate limit on either side",
        report.bare.domains
    );
    println!();
    println!("| Side | Rounds | Median | Observed median | Domains/s | Share of the bare rate |");
    println!("|---|---:|---:|---:|---:|---:|");
    row(
        "bare `reqwest` walk of GET /domains",
        &report.bare,
        bare_rate,
    );
    row(
        "`entrust` adapter walk of GET /domains",
        &report.adapter,
        bare_rate,
    );
    row(
        "credential-sync, first sync (all new)",
        &report.first_sync,
        bare_rate,
    );
    row(
        "credential-sync, repeat sync (no change)",
        &report.repeat_sync,
        bare_rate,
    );
    Ok(())
}

fn row(label: &str, side: &Side, bare_rate: f64) {
    let share = if bare_rate > 0.0 {
        side.rate() / bare_rate
    } else {
        0.0
    };
    println!(
        "| {label} | {} | {:.0} ms | {:.0} ms | {:.0} | {:.2} |",
        side.durations.len(),
        side.median().as_secs_f64() * 1000.0,
        side.observed_median().as_secs_f64() * 1000.0,
        side.rate(),
        share
    );
}
