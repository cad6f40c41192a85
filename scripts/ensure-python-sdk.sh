#!/usr/bin/env bash
# Creates (once) the virtual environment with Apache's official RocketMQ 5
# Python SDK that the gRPC tests (tests/tests/grpc_*.rs) drive, and prints
# its python interpreter's path. Versions are pinned: the SDK's own
# requirements float, and a newer protobuf/grpcio pair has broken it before.
# Idempotent: an environment whose marker names the same pins is reused.
# Location: $RINGMQ_PYTHON_SDK_VENV, default ~/.cache/ringmq-python-sdk.
set -euo pipefail

VENV="${RINGMQ_PYTHON_SDK_VENV:-$HOME/.cache/ringmq-python-sdk}"
PINS=(
  "rocketmq-python-client==5.1.2"
  "grpcio==1.85.3"
  "grpcio-tools==1.85.1"
  "protobuf==7.36.2"
  "opentelemetry-api==1.45.2"
  "opentelemetry-sdk==1.45.2"
  "opentelemetry-exporter-otlp==1.45.2"
)
MARKER="$VENV/.ringmq-pins"

# Test processes start in parallel: one builds the environment, the others
# wait for it instead of deleting it under each other.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
WANTED="$(printf '%s\n' "${PINS[@]}")"

if [ -x "$VENV/bin/python" ] && [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$WANTED" ]; then
  echo "$VENV/bin/python"
  exit 0
fi

PYTHON="${PYTHON:-python3}"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
"$VENV/bin/python" -c "import rocketmq" >&2
printf '%s\n' "${PINS[@]}" >"$MARKER"
echo "$VENV/bin/python"
