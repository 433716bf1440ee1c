//! Runs the catalog-sync benchmark at its small scale (or at the scale CERTITUDE_BENCH_SCALE
//! names), so that it keeps working. It checks what was read, never how fast.

#[path = "../../benches/catalog_sync/measure.rs"]
mod measure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_sync_benchmark_runs_at_small_scale() -> anyhow::Result<()> {
    let scale = measure::Scale::from_env(measure::Scale::Small).map_err(anyhow::Error::msg)?;

    let report = measure::run(scale).await?;

    assert_eq!(report.bare.domains, scale.domains());
    assert_eq!(report.adapter.domains, scale.domains());
    assert_eq!(report.first_sync.domains, scale.domains());
    assert_eq!(report.repeat_sync.domains, scale.domains());
    assert_eq!(report.bare.durations.len(), scale.rounds());
    assert_eq!(report.repeat_sync.durations.len(), scale.rounds());
    assert!(report.bare.rate() > 0.0);
    assert!(report.first_sync.rate() > 0.0);
    // The observed time of a sync also covers the request and the polling around the run.
    assert!(report.first_sync.observed_median() >= report.first_sync.median());
    Ok(())
}
