//! Schemathesis (from PyPI) against the OpenAPI document of a running system: the requests it
//! generates from the document, valid and invalid, get no 5xx and no response the document does
//! not describe (status, media type, body schema).
//!
//! `make test` installs the pinned schemathesis into target/tools and names its `st` command in
//! CERTITUDE_SCHEMATHESIS; otherwise `st` is looked up on PATH.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Stdio;

use std::time::Duration;

use certitude_system_tests::{ADMIN_TOKEN, System};
use reqwest::StatusCode;
use serde_json::json;

/// Test cases per operation and phase; CERTITUDE_SCHEMATHESIS_EXAMPLES raises it.
const DEFAULT_EXAMPLES: &str = "20";

/// The checks the document must pass: no server error, and every response as documented.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

/// Adds the simulator's demo credential and imports its orders, so that lists are not empty
/// and schemathesis meets ids of real credentials, orders and certificates in the responses.
async fn seed_demo_account(system: &System) {
    let credential = system.add_demo_credential(true).await.unwrap();
    let api = system.api();
    let (status, job) = api
        .post("/v1/imports", json!({ "credential_id": credential["id"] }))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job_path = format!("/v1/imports/{}", job["id"].as_str().unwrap());
    let job = api
        .wait_for(&job_path, Duration::from_secs(60), |job| {
            job["state"] != "running"
        })
        .await
        .unwrap();
    assert_eq!(job["state"], "succeeded", "{job}");
}

fn schemathesis_command() -> PathBuf {
    std::env::var_os("CERTITUDE_SCHEMATHESIS").map_or_else(|| PathBuf::from("st"), PathBuf::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_no_failures() {
    let system = System::start().await.unwrap();
    seed_demo_account(&system).await;
    let document = system.api().get("/v1/openapi.json").await.unwrap();
    let folder =
        std::env::temp_dir().join(format!("certitude-schemathesis-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let document_path = folder.join("openapi.json");
    std::fs::write(&document_path, serde_json::to_vec(&document).unwrap()).unwrap();
    let examples = std::env::var("CERTITUDE_SCHEMATHESIS_EXAMPLES")
        .unwrap_or_else(|_| DEFAULT_EXAMPLES.to_owned());
    let seed = std::env::var("CERTITUDE_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".to_owned());
    let command = schemathesis_command();

    // Schemathesis reuses ids it has seen in responses, so revoking a token can revoke the one
    // the run itself uses. Every other operation runs first, and token revocation runs alone after.
    // The stateful phase is left out for the same reason.
    for selection in [
        ["--exclude-operation-id", "revokeToken"],
        ["--include-operation-id", "revokeToken"],
    ] {
        let output = tokio::process::Command::new(&command)
            .arg("run")
            .arg(&document_path)
            .args(["--url", &system.gateway_url])
            .args(["--header", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
            .args(["--checks", CHECKS])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", &examples])
            .args(["--seed", &seed])
            // One worker: with two, schemathesis failed once under CPython 3.11 with "AST
            // constructor recursion depth mismatch", an internal error unrelated to the API.
            .args(["--workers", "1"])
            .args(["--request-timeout", "30"])
            .args(selection)
            .arg("--no-color")
            .current_dir(&folder)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run schemathesis as {}: {error}; run the tests with `make test`, \
                     which installs it, or install it with `pip install schemathesis`",
                    command.display()
                )
            });
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}");

        assert!(
            output.status.success(),
            "schemathesis {selection:?} failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        // A run that tested nothing also exits 0, and one whose token stopped working passes
        // every check with 401s: check that it tested and was let in.
        assert!(stdout.contains("Tested:"), "{stdout}");
        assert!(!stdout.contains("Authentication failed"), "{stdout}");
    }
    std::fs::remove_dir_all(&folder).unwrap();
    system.stop().await.unwrap();
}
