#!/usr/bin/env bash
# Container health check without curl: sends GET PATH over plain HTTP to 127.0.0.1 on the port
# of the listen address in the environment variable LISTEN_VARIABLE, and exits 0 only when the
# response's status is 200.
#
# Usage: certitude-healthcheck PATH [LISTEN_VARIABLE]
#   PATH             the route, such as /readyz
#   LISTEN_VARIABLE  the variable with the HOST:PORT address, CERTITUDE_HTTP_LISTEN by default;
#                    when it is unset, the port is 8080 (the services' default)
set -euo pipefail

path=${1:?usage: certitude-healthcheck PATH [LISTEN_VARIABLE]}
listen_variable=${2:-CERTITUDE_HTTP_LISTEN}
listen=${!listen_variable:-0.0.0.0:8080}
port=${listen##*:}

# bash opens the TCP connection itself through /dev/tcp, so the image needs no HTTP client.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
read -r -t 3 _ status _ <&3
exec 3<&-

if [[ $status != 200 ]]; then
  echo "GET $path on port $port returned status ${status:-none}" >&2
  exit 1
fi
