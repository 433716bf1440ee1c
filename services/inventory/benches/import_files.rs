//! Benchmark: importing PEM files through the inventory's ImportCertificateFiles, as files per
//! second (see `measure`).
//!
//! `cargo bench -p certitude-inventory --bench import_files` generates 100,000 certificates
//! and imports them in calls of 500 files; `CERTITUDE_BENCH_SCALE=small` imports 1,000, as the
//! smoke test in `tests/import_bench_smoke.rs` does. It needs the local Postgres and NATS, and
//! prints a Markdown table for docs/BENCHMARKS.md.

#[path = "import_files/measure.rs"]
mod measure;

use std::time::Duration;

use measure::{BATCH_FILES, Scale};

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure::run(scale))?;
    if report.stored != i64::try_from(report.files)? {
        anyhow::bail!(
            "{} files imported but {} certificates stored",
            report.files,
            report.stored
        );
    }

    println!(
        "{} certificates generated in {:.1} s (not timed); {} calls of {BATCH_FILES} files",
        report.files,
        report.generation.as_secs_f64(),
        report.calls.len()
    );
    println!();
    println!(
        "| Files | Import time | Files/s | Call p50 | Call p99 | Call max | Outbox drained after |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.1} s | {:.0} | {} | {} | {} | {} |",
        report.files,
        report.import.as_secs_f64(),
        report.files_per_second(),
        millis(report.call_quantile(0.5)),
        millis(report.call_quantile(0.99)),
        millis(report.call_quantile(1.0)),
        millis(report.outbox_drain),
    );
    println!();
    println!(
        "stored {} certificates, {} added by the calls, license held {}; {} ANALYZE runs took \
         {:.1} s of the import time",
        report.stored,
        report.added,
        report.held,
        report.analyze_runs,
        report.analyze.as_secs_f64()
    );
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}
