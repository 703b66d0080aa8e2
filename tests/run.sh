#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, the storage-port conformance
# suite (files + SQLite, and S3 + DynamoDB on moto_server) and the end-to-end
# suite (real cargo against real servers on 127.0.0.1, and the web UI in
# headless Chromium). Installs moto, Chromium and playwright-core if needed.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v moto_server >/dev/null 2>&1 || missing+=("moto[server]>=5.1")
command -v cfn-lint >/dev/null 2>&1 || missing+=(cfn-lint)
command -v sam >/dev/null 2>&1 || missing+=(aws-sam-cli)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (AWS emulator and template linters)"
  python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi

# The web UI's browser test: Debian's Chromium, driven by playwright-core
# (npm; the package lock pins it). Playwright's own browser download is not
# used: it cannot work on machines that reach only the package registries.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
if [ ${#packages[@]} -gt 0 ]; then
  echo "== installing ${packages[*]} (Debian packages) for the web UI test"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
if [ ! -d tests/ui/node_modules/playwright-core ]; then
  echo "== npm ci (tests/ui: playwright-core)"
  npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
fi

echo "== template.yaml: cfn-lint and sam validate --lint"
cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1 --template template.yaml
if [ -n "${CRATEYARD_TEST_AWS_ENDPOINT:-}" ]; then
  # An emulator of your own (LocalStack: http://localhost:4566) instead of moto.
  echo "== AWS tests against $CRATEYARD_TEST_AWS_ENDPOINT"
  export CRATEYARD_TEST_MOTO="$CRATEYARD_TEST_AWS_ENDPOINT"
else
  MOTO_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  MOTO_LOG=$(mktemp)
  python3 infra/moto_server.py "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  trap 'kill $MOTO_PID 2>/dev/null || true; rm -f "$MOTO_LOG"' EXIT
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export CRATEYARD_TEST_MOTO="http://127.0.0.1:$MOTO_PORT"
fi

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# README's "Run it" builds the server without the AWS SDK.
cargo clippy -p crateyard_server --no-default-features --all-targets --locked -- -D warnings

echo "== cargo test"
# The end-to-end tests spawn servers and cargo processes of their own; two
# test threads keep a 2-core machine responsive. --no-fail-fast: one run
# reports every failing test binary, not only the first.
cargo test --workspace --locked --no-fail-fast -- --test-threads="${CRATEYARD_TEST_THREADS:-2}"

# Fuzzing adds minutes (installing cargo-fuzz, an instrumented build), so it
# runs when CRATEYARD_FUZZ_SECONDS is set: CI sets it (.ci/run).
if [ "${CRATEYARD_FUZZ_SECONDS:-0}" != 0 ]; then
  echo "== cargo fuzz, ${CRATEYARD_FUZZ_SECONDS}s per target"
  functions/core/fuzz/run.sh "$CRATEYARD_FUZZ_SECONDS"
fi
