//! Runs each benchmark of `benches/` once at its small scale (or at the scale
//! CERTITUDE_BENCH_SCALE names), so that they keep working. They check what was stored, never
//! how fast.

use certitude_system_tests::bench::{Scale, import, pipeline};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_pipeline_benchmark_runs() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Small)?;

    let report = pipeline::run(scale).await?;

    assert_eq!(report.orders, pipeline::orders(scale));
    assert_eq!(report.in_inventory, report.orders);
    assert_eq!(report.latencies.len(), report.orders);
    assert_eq!(report.create_latencies.len(), report.orders);
    assert!(report.rate() > 0.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_import_benchmark_runs() -> anyhow::Result<()> {
    let scale = Scale::from_env(Scale::Small)?;
    let orders = import::scenario(scale).orders.len();

    let report = import::run(scale).await?;

    assert_eq!(report.scenario_orders, orders);
    assert_eq!(report.cold_walk.orders, orders);
    assert_eq!(report.bare.orders, orders);
    assert_eq!(report.bare.certificates, report.cold_walk.certificates);
    assert!(report.bare.certificates > 0);
    let first = &report.first.counts;
    assert_eq!(first.orders, orders as u64);
    assert_eq!(first.imported, orders as u64);
    assert_eq!(first.failed, 0);
    assert_eq!(first.issued, report.bare.certificates as u64);
    assert_eq!(report.first.in_inventory, report.bare.certificates as i64);
    let repeat = &report.repeat.counts;
    assert_eq!(repeat.orders, orders as u64);
    assert_eq!(repeat.imported, 0);
    assert_eq!(repeat.issued, 0);
    assert_eq!(repeat.failed, 0);
    Ok(())
}
