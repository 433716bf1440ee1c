#!/usr/bin/env bash
# Runs every test of the workspace. Uses cargo-nextest when installed (one process per test, which
# keeps tests that share Postgres and NATS independent), cargo test otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
# Doc tests are not run by nextest.
cargo test --workspace --doc
