//! Checks of the deployment files under `deploy/` against the code they run.
//!
//! No container engine runs in CI, so the images are never built here. Instead these tests
//! read the Dockerfile and check that it builds real workspace packages and binaries, runs them
//! as an unprivileged user with a health check, and bakes in no secret. The compose file and the
//! production Kustomize overlay (rendered by `kubectl kustomize`) must name only images that the
//! Dockerfile builds or pinned third-party ones, and run subcommands and settings that the
//! `certitude` binary accepts. The health check script runs against a real service on the local
//! Postgres and NATS. The Kustomize tests fail, never skip, when kubectl is missing.

mod compose;
mod dockerfile;
mod healthcheck;
mod kubernetes;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_norway::Value;

const CERTITUDE: &str = env!("CARGO_BIN_EXE_certitude");

/// The service subcommands of `certitude`, each of which serves `/healthz` and `/readyz`.
const SERVICES: [&str; 5] = [
    "gateway",
    "credential-sync",
    "order-manager",
    "renewal-scheduler",
    "inventory",
];

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

fn read_repository_file(relative: &str) -> String {
    let path = repository_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {} failed: {error}", path.display()))
}

/// Parses a YAML document and resolves its merge keys (`<<: *anchor`).
fn parse_yaml(text: &str, source: &str) -> Value {
    let mut value: Value = serde_norway::from_str(text)
        .unwrap_or_else(|error| panic!("{source} is not valid YAML: {error}"));
    value
        .apply_merge()
        .unwrap_or_else(|error| panic!("{source} has an invalid merge key: {error}"));
    value
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `certitude <args>` with an empty environment and returns its output.
fn run_certitude(args: &[&str]) -> Output {
    Command::new(CERTITUDE)
        .args(args)
        .env_clear()
        .output()
        .expect("the certitude binary runs")
}

/// Returns the `--help` text of `certitude <subcommand>`, and fails when the binary rejects
/// the subcommand.
fn subcommand_help(subcommand: &str) -> String {
    let output = run_certitude(&[subcommand, "--help"]);
    assert!(
        output.status.success(),
        "certitude {subcommand} --help failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the help text is UTF-8")
}

/// Returns the environment variables that `certitude <subcommand>` reads, from its `--help`.
fn accepted_variables(subcommand: &str) -> BTreeSet<String> {
    let help = subcommand_help(subcommand);
    help.split("[env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Asserts that `certitude <subcommand>` reads each variable of `names`. `context` names the
/// file and the object they come from.
fn assert_variables_accepted<'a>(
    subcommand: &str,
    names: impl IntoIterator<Item = &'a str>,
    context: &str,
) {
    let accepted = accepted_variables(subcommand);
    for name in names {
        assert!(
            accepted.contains(name),
            "{context} sets {name}, which `certitude {subcommand} --help` does not list"
        );
    }
}

#[test]
fn help_lists_every_service_subcommand() {
    let output = run_certitude(&["--help"]);
    let help = String::from_utf8(output.stdout).expect("the help text is UTF-8");

    for service in SERVICES.iter().chain(&["provision", "rotate-master-key"]) {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(&format!("{service} "))),
            "certitude --help lists no subcommand {service}:\n{help}"
        );
    }
}

#[test]
fn unknown_subcommand_is_rejected() {
    let output = run_certitude(&["no-such-service", "--help"]);

    assert!(
        !output.status.success(),
        "certitude accepted an unknown subcommand, so the entrypoint checks would prove nothing"
    );
}
