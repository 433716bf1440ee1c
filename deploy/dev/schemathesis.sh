#!/usr/bin/env bash
# Installs the pinned schemathesis (from PyPI) into target/tools/schemathesis, once, and prints
# the path of its `st` command. The system test tests/system/tests/schemathesis.rs runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=4.32.5
venv="${CARGO_TARGET_DIR:-target}/tools/schemathesis"
st="$venv/bin/st"
if [[ ! -x $st ]] || ! "$st" --version 2>/dev/null | grep -q " $version\$"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
fi
realpath "$st"
