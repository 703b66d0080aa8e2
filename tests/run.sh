#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, port conformance and the
# end-to-end suite (real cargo against real servers on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# The end-to-end tests spawn servers and cargo processes of their own; two
# test threads keep a 2-core machine responsive.
cargo test --workspace --locked -- --test-threads="${CRATEYARD_TEST_THREADS:-2}"
