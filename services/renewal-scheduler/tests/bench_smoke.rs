//! Runs the due-scan benchmark at its small scale (or at the scale CERTITUDE_BENCH_SCALE names),
//! so that it keeps working. It checks what was loaded, returned and planned, never how fast.

#[path = "../benches/due_scan/measure.rs"]
mod measure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_scan_benchmark_runs_at_small_scale() -> anyhow::Result<()> {
    let scale = measure::Scale::from_env(measure::Scale::Small).map_err(anyhow::Error::msg)?;

    let report = measure::run(scale).await?;

    assert_eq!(report.sizes.len(), scale.table_sizes().len());
    for (size, rows) in report.sizes.iter().zip(scale.table_sizes()) {
        assert_eq!(size.rows, rows);
        assert_eq!(size.returned, usize::try_from(measure::DUE)?);
        assert_eq!(size.durations.len(), scale.runs());
        assert!(size.quantile(0.99) > std::time::Duration::ZERO);
    }
    assert!(
        report.plan.contains("certificate_expiries_due_idx"),
        "the scan reads the due index:\n{}",
        report.plan
    );
    Ok(())
}
