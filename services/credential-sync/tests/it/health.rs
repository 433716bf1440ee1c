//! The health endpoints of a started service.

use crate::support::TestService;

#[tokio::test]
async fn readiness_reports_postgres_and_nats_up() {
    let service = TestService::start().await;
    let http_addr = service
        .running
        .as_ref()
        .expect("the service runs")
        .http_addr;

    let response = reqwest::get(format!("http://{http_addr}/readyz"))
        .await
        .expect("the health server answers");

    assert_eq!(response.status(), reqwest::StatusCode::OK);
    service.stop().await;
}
