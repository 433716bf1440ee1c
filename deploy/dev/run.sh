#!/usr/bin/env bash
# Starts Certitude for local use: the Entrust simulator with the demo scenario and the five
# services as separate processes, against the local Postgres and NATS. Stop with Ctrl-C.
#
# The simulator keeps its state in memory and starts from its scenario each time, so every start
# also starts Certitude's database afresh (`certitude provision --reset`); the data of the
# previous run is dropped. The master key and the admin token stay in .run/ (ignored by git,
# readable only by the owner).
set -euo pipefail
cd "$(dirname "$0")/../.."

run_dir=.run
mkdir -p "$run_dir/logs"
chmod 700 "$run_dir"

echo "Building certitude, entrust-sim and certctl (the first build takes several minutes)"
cargo build -q -p certitude -p entrust-sim -p certctl --bins
bin=target/debug

admin_url=${CERTITUDE_ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=${CERTITUDE_DATABASE:-certitude}
"$bin/certitude" provision --reset --admin-url "$admin_url" --database "$database" >/dev/null

umask 077
[[ -s $run_dir/master.keys ]] || "$bin/certitude" generate-master-key --id "dev-$(date +%Y%m%d%H%M%S)" >"$run_dir/master.keys"
[[ -s $run_dir/admin.token ]] || echo "ctk_dev_$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" >"$run_dir/admin.token"
umask 022

export CERTITUDE_MASTER_KEY_FILE=$run_dir/master.keys
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
export RUST_LOG=${RUST_LOG:-info}

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "Stopping Certitude"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# start NAME LOGFILE COMMAND...: runs a process in the background with its output in a log file.
# Each runs in a session of its own, so Ctrl-C reaches only this script, which stops them once
# with SIGTERM; a second signal would cut their graceful shutdown short.
start() {
  local name=$1
  shift
  setsid "$@" >"$run_dir/logs/$name.log" 2>&1 &
  pids+=($!)
}

db_url() { echo "postgres://certitude_$1@127.0.0.1:5432/$database"; }

start entrust-sim "$bin/entrust-sim" --scenario crates/entrust-sim/scenarios/demo.json \
  --listen 127.0.0.1:8443

DATABASE_URL=$(db_url credential_sync) CERTITUDE_GRPC_LISTEN=127.0.0.1:50052 \
  CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP=true \
  CERTITUDE_HTTP_LISTEN=127.0.0.1:8082 start credential-sync "$bin/certitude" credential-sync
DATABASE_URL=$(db_url inventory) CERTITUDE_GRPC_LISTEN=127.0.0.1:50054 \
  CERTITUDE_HTTP_LISTEN=127.0.0.1:8084 start inventory "$bin/certitude" inventory
DATABASE_URL=$(db_url renewal) CERTITUDE_GRPC_LISTEN=127.0.0.1:50055 \
  CERTITUDE_HTTP_LISTEN=127.0.0.1:8085 start renewal-scheduler "$bin/certitude" renewal-scheduler
DATABASE_URL=$(db_url order_manager) CERTITUDE_GRPC_LISTEN=127.0.0.1:50053 \
  CERTITUDE_HTTP_LISTEN=127.0.0.1:8083 \
  CERTITUDE_CREDENTIAL_SYNC_URL=http://127.0.0.1:50052 CERTITUDE_INVENTORY_URL=http://127.0.0.1:50054 \
  start order-manager "$bin/certitude" order-manager
DATABASE_URL=$(db_url gateway) CERTITUDE_GRPC_LISTEN=127.0.0.1:50051 \
  CERTITUDE_HTTP_LISTEN=127.0.0.1:8081 CERTITUDE_API_LISTEN=127.0.0.1:8000 \
  CERTITUDE_BOOTSTRAP_ADMIN_TOKEN="$(cat "$run_dir/admin.token")" \
  CERTITUDE_CREDENTIAL_SYNC_URL=http://127.0.0.1:50052 \
  CERTITUDE_ORDER_MANAGER_URL=http://127.0.0.1:50053 CERTITUDE_INVENTORY_URL=http://127.0.0.1:50054 \
  start gateway "$bin/certitude" gateway

# Wait until /readyz of every service returns 200 (Postgres and NATS reachable).
for port in 8081 8082 8083 8084 8085; do
  for attempt in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
    if [[ $attempt -eq 100 ]]; then
      echo "error: the service with health port $port did not become ready; see $run_dir/logs/" >&2
      exit 1
    fi
    sleep 0.3
  done
done

token=$(cat "$run_dir/admin.token")
cat <<EOT

Certitude is running.
  Gateway:          http://127.0.0.1:8000/v1
  Admin token:      $token
  Entrust (sim):    http://127.0.0.1:8443/enterprise/v2  (user demo-admin, key sim-demo-admin-key)
  Logs:             $run_dir/logs/

Next, in another terminal (the README's first steps):
  export CERTITUDE_TOKEN=$token
  curl -s -H "Authorization: Bearer \$CERTITUDE_TOKEN" http://127.0.0.1:8000/v1/credentials
or with the command-line client:
  target/debug/certctl credentials list

Stop with Ctrl-C.
EOT

wait -n "${pids[@]}" || true
echo "error: a Certitude process exited; see $run_dir/logs/" >&2
exit 1
