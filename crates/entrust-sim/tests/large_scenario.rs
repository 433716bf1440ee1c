//! The generated large scenario: 10,000 domains and 100,000 orders that a simulator serves
//! without signing anything at start.

use std::collections::BTreeMap;

use certitude_clock::ManualClock;
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use serde_json::Value;
use time::macros::datetime;

async fn get(client: &reqwest::Client, url: String) -> Value {
    let response = client
        .get(url)
        .basic_auth("demo-admin", Some("sim-demo-admin-key"))
        .send()
        .await
        .expect("request reaches the simulator");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json().await.expect("body is JSON")
}

#[tokio::test]
async fn large_scenario_has_the_promised_counts() {
    let scenario = Scenario::large(11);

    assert_eq!(scenario.domains.len(), 10_000);
    assert_eq!(scenario.orders.len(), 100_000);
    scenario
        .validate()
        .expect("the large scenario is consistent");
    let mut statuses = BTreeMap::new();
    for order in &scenario.orders {
        *statuses.entry(order.status.as_str()).or_insert(0) += 1;
    }
    assert!(statuses["ACTIVE"] > 80_000, "{statuses:?}");
    assert!(statuses["PENDING"] > 1_000, "{statuses:?}");
    assert_eq!(statuses.len(), 8, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_serves_the_large_scenario() {
    let sim = RunningSimulator::start(SimConfig {
        scenario: Scenario::large(11),
        clock: ManualClock::new(datetime!(2026-03-10 15:00 UTC)).shared(),
        listen: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .expect("simulator starts");
    let client = reqwest::Client::new();
    let base = sim.base_url();

    let orders = get(&client, format!("{base}/certificates?limit=1")).await;
    let domains = get(&client, format!("{base}/domains?limit=1")).await;
    let last = get(&client, format!("{base}/certificates/3099999")).await;

    assert_eq!(orders["summary"]["total"], 100_000);
    assert_eq!(domains["summary"]["total"], 10_000);
    assert_eq!(last["trackingId"], 3_099_999);
    assert!(
        last["endEntityCert"].is_string()
            || last["status"] == "PENDING"
            || last["status"] == "DECLINED",
        "{last}"
    );
    sim.shutdown().await;
}
