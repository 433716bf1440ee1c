#!/usr/bin/env bash
# Starts Certitude for local use: the Entrust simulator with the demo scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."

listen=${ENTRUST_SIM_LISTEN:-127.0.0.1:8443}
cargo build --release -p entrust-sim --bin entrust-sim
exec target/release/entrust-sim --scenario crates/entrust-sim/scenarios/demo.json --listen "$listen"
