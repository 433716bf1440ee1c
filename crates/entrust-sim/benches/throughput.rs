//! Throughput of the Entrust simulator: `GET /certificates/{trackingId}` requests per second
//! and ECDSA certificates issued per second through `POST /certificates`, over HTTP on
//! loopback.
//!
//! `cargo bench -p entrust-sim` runs the full scale (10,000 domains, 100,000 orders);
//! `CERTITUDE_BENCH_SCALE=small` runs the small one, which the `bench_small` test also runs.

#[path = "workload/mod.rs"]
mod workload;

use workload::{Scale, run};

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; any other invocation defaults to the small scale.
    let default = if std::env::args().any(|arg| arg == "--bench") {
        Scale::FULL
    } else {
        Scale::SMALL
    };
    let scale = Scale::from_env(default)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(scale))?;

    println!("entrust-sim throughput, {} scale", report.scale.name);
    println!(
        "  scenario: {} domains, {} orders generated in {:.2?}; simulator started in {:.2?}",
        report.scale.domains, report.listed_orders, report.generate, report.startup
    );
    println!(
        "  GET /certificates/{{trackingId}}: {} requests over {} orders, {} concurrent, \
         {:.2?}: {:.0} requests/s",
        report.reads_ok,
        report.scale.read_set,
        report.scale.concurrency,
        report.read_time,
        report.reads_per_second()
    );
    println!(
        "  POST /certificates (ECDSA P-256): {} issued, {} concurrent, {:.2?}: {:.0} \
         certificates/s",
        report.issued,
        report.scale.concurrency,
        report.issue_time,
        report.issues_per_second()
    );
    Ok(())
}
