//! The `entrust-sim` binary: starts on the given address, logs its URL and user names but no
//! keys, serves requests, and exits cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[cfg(unix)]
#[tokio::test]
async fn binary_serves_demo_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_entrust-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let mut startup = String::new();
    let base_url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            startup.push_str(&line);
            startup.push('\n');
            if let Some(start) = line.find("base_url=") {
                let rest = &line[start + "base_url=".len()..];
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("the binary exited before logging its URL:\n{startup}");
    })
    .await
    .expect("the binary logs its URL within a minute");

    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    assert!(base_url.ends_with("/enterprise/v2"), "{base_url}");
    assert!(startup.contains("demo-admin"), "{startup}");
    assert!(startup.contains("demo-requester"), "{startup}");
    assert!(!startup.contains("sim-demo-admin-key"), "{startup}");

    let response = reqwest::Client::new()
        .get(format!("{base_url}/application/version"))
        .basic_auth("demo-admin", Some("sim-demo-admin-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let pid = child.id().expect("the binary is running");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the binary exits within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn binary_generates_scenario_json() {
    let output = Command::new(env!("CARGO_BIN_EXE_entrust-sim"))
        .args([
            "generate-scenario",
            "--domains",
            "30",
            "--orders",
            "120",
            "--seed",
            "5",
        ])
        .output()
        .await
        .expect("the binary runs");

    assert!(output.status.success(), "exit status {}", output.status);
    let json = String::from_utf8(output.stdout).unwrap();
    let scenario = entrust_sim::Scenario::from_json(&json).unwrap();
    assert_eq!(scenario.domains.len(), 30);
    assert_eq!(scenario.orders.len(), 120);
    let again = entrust_sim::Scenario::generate(&entrust_sim::GenerateOptions {
        domains: 30,
        orders: 120,
        seed: 5,
    });
    assert_eq!(again.to_json().unwrap(), json.trim_end());
}
