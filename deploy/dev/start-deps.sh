#!/usr/bin/env bash
# Starts the local PostgreSQL and NATS JetStream servers when they are not answering.
# On a machine without them, installs Debian's packages (postgresql, nats-server) when running as
# root with apt-get, and otherwise says exactly what to install.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 50); do
    port_open "$port" && return 0
    sleep 0.2
  done
  echo "error: $name did not start listening on 127.0.0.1:$port" >&2
  exit 1
}

install_packages() {
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing $* from the distribution's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "error: $* missing; install them (Debian/Ubuntu: sudo apt-get install $*)" >&2
    exit 1
  fi
}

if ! port_open 5432; then
  command -v pg_ctlcluster >/dev/null || install_packages postgresql
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  wait_for_port 5432 PostgreSQL
fi

if ! port_open 4222; then
  command -v nats-server >/dev/null || [[ -x /usr/sbin/nats-server ]] || install_packages nats-server
  store_dir=${NATS_STORE_DIR:-/var/lib/nats-server}
  mkdir -p "$store_dir"
  echo "Starting NATS with JetStream (store: $store_dir)"
  nohup "$(command -v nats-server || echo /usr/sbin/nats-server)" -js -a 127.0.0.1 -p 4222 \
    -sd "$store_dir" >"${TMPDIR:-/tmp}/certitude-nats.log" 2>&1 &
  wait_for_port 4222 NATS
fi
