//! Runs the throughput benchmark's workload at its small scale, so that the benchmark keeps
//! compiling and working. It checks the counts only; speed belongs to the benchmark itself.

#[path = "../benches/workload/mod.rs"]
#[allow(dead_code, reason = "the test runs the small scale only")]
mod workload;

use workload::{Scale, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_benchmark_workload_completes() {
    let report = run(Scale::SMALL).await.expect("the workload runs");

    assert_eq!(report.listed_orders, Scale::SMALL.orders as u64);
    assert_eq!(report.reads_ok, Scale::SMALL.reads);
    assert_eq!(report.issued, Scale::SMALL.issues);
    assert!(report.reads_per_second() > 0.0);
    assert!(report.issues_per_second() > 0.0);
}
