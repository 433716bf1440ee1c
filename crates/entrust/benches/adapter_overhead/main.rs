//! Benchmark: the Entrust adapter's overhead over a bare `reqwest` call for
//! `GET /certificates/{trackingId}` against the simulator on loopback.
//!
//! `cargo bench -p entrust --bench adapter_overhead` measures 5,000 calls per side;
//! `CERTITUDE_BENCH_SCALE=small` measures 40, as the smoke test in `tests/it` does. The
//! output is a Markdown table for docs/BENCHMARKS.md.

mod measure;

use measure::{Scale, micros};

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure::run(scale))?;

    let overhead_median = report.adapter.median.saturating_sub(report.bare.median);
    let overhead_p99 = report.adapter.p99.saturating_sub(report.bare.p99);
    println!("| Call | Calls | Median | p99 |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `EntrustClient::order` | {} | {} | {} |",
        report.adapter.calls,
        micros(report.adapter.median),
        micros(report.adapter.p99)
    );
    println!(
        "| bare `reqwest` GET | {} | {} | {} |",
        report.bare.calls,
        micros(report.bare.median),
        micros(report.bare.p99)
    );
    println!(
        "| overhead (difference) | | {} | {} |",
        micros(overhead_median),
        micros(overhead_p99)
    );
    Ok(())
}
