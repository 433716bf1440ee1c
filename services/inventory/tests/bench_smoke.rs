//! Runs the search benchmark at its small scale (or at the scale CERTITUDE_BENCH_SCALE names),
//! so that it keeps working. It checks what was loaded and listed, never how fast.

#[path = "../benches/search/measure.rs"]
mod measure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_benchmark_runs_at_small_scale() -> anyhow::Result<()> {
    let scale = measure::Scale::from_env(measure::Scale::Small).map_err(anyhow::Error::msg)?;

    let report = measure::run(scale).await?;

    assert_eq!(report.rows, scale.rows());
    assert_eq!(report.grpc.durations.len(), scale.requests());
    assert_eq!(report.sql.durations.len(), scale.requests());
    assert_eq!(report.templates.len(), measure::templates().len());
    let by_label = |label: &str| {
        report
            .templates
            .iter()
            .find(|template| template.label.starts_with(label))
            .map(|template| template.first_page_rows)
    };
    // Filters that match many rows fill the first page.
    assert_eq!(by_label("no filter"), Some(50));
    assert_eq!(by_label("query \"payments\""), Some(50));
    assert_eq!(by_label("issuer \"L1K\""), Some(50));
    assert_eq!(by_label("RSA"), Some(50));
    assert!(report.load > std::time::Duration::ZERO);
    assert!(report.grpc.quantile(0.99) > std::time::Duration::ZERO);
    Ok(())
}
