//! Runs the adapter-overhead benchmark at its small scale (or at the scale
//! `CERTITUDE_BENCH_SCALE` names), so it keeps compiling and working. No timing is asserted:
//! only that every call succeeded and was measured.

#[path = "../../benches/adapter_overhead/measure.rs"]
mod measure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_overhead_benchmark_runs_at_small_scale() -> anyhow::Result<()> {
    let scale = measure::Scale::from_env(measure::Scale::Small).map_err(anyhow::Error::msg)?;

    let report = measure::run(scale).await?;

    assert_eq!(report.adapter.calls, scale.calls());
    assert_eq!(report.bare.calls, scale.calls());
    assert!(measure::Scale::Full.calls() > measure::Scale::Small.calls());
    assert!(report.adapter.median > std::time::Duration::ZERO);
    assert!(report.adapter.p99 >= report.adapter.median);
    assert!(report.bare.p99 >= report.bare.median);
    assert!(!measure::micros(report.bare.median).is_empty());
    Ok(())
}
