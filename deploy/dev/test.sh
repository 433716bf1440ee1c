#!/usr/bin/env bash
# Runs every test of the workspace. Uses cargo-nextest when installed (one process per test, which
# keeps tests that share Postgres and NATS independent), cargo test otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Benchmarks are binaries without the test harness, so they are left out here; each one has a
# test that runs it once at a small size (CERTITUDE_BENCH_SCALE=small).
targets=(--workspace --lib --bins --tests)
# The schemathesis system test runs this pinned schemathesis against the OpenAPI document.
CERTITUDE_SCHEMATHESIS=$(deploy/dev/schemathesis.sh)
export CERTITUDE_SCHEMATHESIS
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run "${targets[@]}" --no-fail-fast "$@"
else
  cargo test "${targets[@]}" --no-fail-fast "$@"
fi
# Doc tests are not run by nextest.
cargo test --workspace --doc
