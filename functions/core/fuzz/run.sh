#!/usr/bin/env bash
# Fuzzes the untrusted-input parsers (publish frame, .crate checks) for a
# bounded time per target; a crash leaves its input under artifacts/ and
# fails the script. Installs cargo-fuzz if missing.
# Usage: functions/core/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   (default 20 s each; run for hours on demand: run.sh 3600)
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-20}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(publish_frame crate_file crate_tar)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
# cargo-fuzz passes -Z flags; the stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
# The code under test forbids `unsafe`, so AddressSanitizer would find
# nothing the Rust checks do not; without it builds are several times faster.
FUZZ_FLAGS=(--sanitizer none --release)

SEEDS=$(mktemp -d)
trap 'rm -rf "$SEEDS"' EXIT
# Real crates from crates.io as seeds: whole for crate_file, un-gzipped for crate_tar.
mkdir -p "$SEEDS/crate_file" "$SEEDS/crate_tar" "$SEEDS/publish_frame"
for f in ../../tarball/tests/data/*.crate; do
  cp "$f" "$SEEDS/crate_file/"
  gzip -dc <"$f" >"$SEEDS/crate_tar/$(basename "$f" .crate).tar"
done
python3 - "$SEEDS/publish_frame/minimal" <<'PY'
import struct, sys
meta = b'{"name":"foo","vers":"1.0.0","deps":[{"name":"bar","version_req":"^1"}]}'
open(sys.argv[1], "wb").write(struct.pack("<I", len(meta)) + meta + struct.pack("<I", 3) + b"tar")
PY

cargo fuzz build "${FUZZ_FLAGS[@]}"
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target for ${SECONDS_PER_TARGET}s"
  status=0
  cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "corpus/$target" "$SEEDS/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    >"$SEEDS/$target.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$SEEDS/$target.log"
    echo "fuzz target $target failed (exit $status): the input is under $(pwd)/artifacts/$target"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE' "$SEEDS/$target.log" || true
done
