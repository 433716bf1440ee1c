//! Benchmark: the renewal due-scan returning the same 1,000 due certificates from tables of
//! 10,000, 100,000 and 1,000,000 certificates (see `measure`).
//!
//! `cargo bench -p certitude-renewal-scheduler --bench due_scan` runs the full sizes;
//! `CERTITUDE_BENCH_SCALE=small` runs 10,000, 30,000 and 100,000, as the smoke test in
//! `tests/bench_smoke.rs` does. It needs the local Postgres, and prints a Markdown table for
//! docs/BENCHMARKS.md and the plan of the largest table. The target is a p50 on the largest
//! table at most 1.5 times the p50 on the smallest.

#[path = "due_scan/measure.rs"]
mod measure;

use std::time::Duration;

use measure::Scale;

/// Largest table's p50 over the smallest table's p50 that the scan must stay within.
const TARGET_RATIO: f64 = 1.5;

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure::run(scale))?;

    println!("| Certificates | Due rows returned | Scans | p50 | p99 | max |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for size in &report.sizes {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            size.rows,
            size.returned,
            size.durations.len(),
            millis(size.quantile(0.5)),
            millis(size.quantile(0.99)),
            millis(size.quantile(1.0)),
        );
    }
    let (Some(smallest), Some(largest)) = (report.sizes.first(), report.sizes.last()) else {
        anyhow::bail!("no table size was measured");
    };
    let ratio = largest.quantile(0.5).as_secs_f64() / smallest.quantile(0.5).as_secs_f64();
    println!();
    println!(
        "p50 on {} rows over p50 on {} rows: {ratio:.2} (target at most {TARGET_RATIO})",
        largest.rows, smallest.rows
    );
    println!();
    println!("EXPLAIN (ANALYZE, BUFFERS) on {} rows:", largest.rows);
    println!();
    println!("```");
    println!("{}", report.plan);
    println!("```");
    if ratio > TARGET_RATIO {
        anyhow::bail!("the due-scan grew {ratio:.2} times from the smallest to the largest table");
    }
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
