//! Runs the import benchmark at its small scale (or at the scale CERTITUDE_BENCH_SCALE names),
//! so that it keeps working. It checks what was stored, never how fast.

#[path = "../benches/import_files/measure.rs"]
mod measure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_benchmark_runs_at_small_scale() -> anyhow::Result<()> {
    let scale = measure::Scale::from_env(measure::Scale::Small).map_err(anyhow::Error::msg)?;

    let report = measure::run(scale).await?;

    let files = scale.files();
    assert_eq!(report.files, files);
    assert_eq!(report.calls.len(), files.div_ceil(measure::BATCH_FILES));
    assert_eq!(report.added, u64::try_from(files)?);
    assert_eq!(report.stored, i64::try_from(files)?);
    assert_eq!(report.held, u64::try_from(files)?);
    assert!(report.import >= report.call_quantile(1.0));
    assert!(report.files_per_second() > 0.0);
    eprintln!(
        "generated in {:?}, imported in {:?} ({} ANALYZE runs, {:?}), outbox drained {:?} later",
        report.generation, report.import, report.analyze_runs, report.analyze, report.outbox_drain
    );
    Ok(())
}
