//! Benchmark: a filtered, sorted page of ListCertificates through the inventory's gRPC API next
//! to the same SQL run directly (see `measure`).
//!
//! `cargo bench -p certitude-inventory --bench search` loads 1,000,000 certificates and times
//! 300 requests per side; `CERTITUDE_BENCH_SCALE=small` loads 10,000 and times 45, as the smoke
//! test in `tests/bench_smoke.rs` does. It needs the local Postgres and NATS, and prints Markdown
//! tables for docs/BENCHMARKS.md.

#[path = "search/measure.rs"]
mod measure;

use std::time::Duration;

use measure::{PAGE_SIZE, Scale, Side};

fn main() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Full).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure::run(scale))?;

    println!(
        "{} certificates loaded in {:.1} s; pages of {PAGE_SIZE}; {} requests per side",
        report.rows,
        report.load.as_secs_f64(),
        report.grpc.durations.len()
    );
    println!();
    println!("| Side | p50 | p99 | max |");
    println!("|---|---:|---:|---:|");
    row("ListCertificates over gRPC", &report.grpc);
    row("the same SQL, direct", &report.sql);
    let ratio = ratio(report.grpc.quantile(0.99), report.sql.quantile(0.99));
    println!();
    println!("p99 of gRPC over p99 of direct SQL: {ratio:.2}");
    println!();
    println!("| Request | Rows on page 1 | gRPC p50 | SQL p50 | gRPC max | SQL max |");
    println!("|---|---:|---:|---:|---:|---:|");
    for template in &report.templates {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            template.label,
            template.first_page_rows,
            millis(template.grpc.quantile(0.5)),
            millis(template.sql.quantile(0.5)),
            millis(template.grpc.quantile(1.0)),
            millis(template.sql.quantile(1.0)),
        );
    }
    Ok(())
}

fn row(label: &str, side: &Side) {
    println!(
        "| {label} | {} | {} | {} |",
        millis(side.quantile(0.5)),
        millis(side.quantile(0.99)),
        millis(side.quantile(1.0))
    );
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    if denominator.is_zero() {
        return 0.0;
    }
    numerator.as_secs_f64() / denominator.as_secs_f64()
}
