#!/usr/bin/env bash
# Fuzzes the untrusted-input parsers (publish frame, .crate checks), the
# whole HTTP router and the README renderer for a bounded time per target; a crash leaves its input under artifacts/ and
# fails the script. Installs cargo-fuzz if missing.
# Usage: functions/core/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   (default 20 s each; run for hours on demand: run.sh 3600)
# FUZZ_RUNS=10000000 run.sh: a fixed number of executions per target instead
# of a time, built without comparison tracing (about 2.8x the throughput on
# the .crate targets) into its own target directory; the corpus that the
# default builds grew with comparison tracing is its starting point.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-20}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(publish_frame crate_file crate_tar router readme)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
# cargo-fuzz passes -Z flags; the stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
# The code under test forbids `unsafe`, so AddressSanitizer would find
# nothing the Rust checks do not; without it builds are several times faster.
FUZZ_FLAGS=(--sanitizer none --release)
LIMIT=(-max_total_time="$SECONDS_PER_TARGET")
if [ -n "${FUZZ_RUNS:-}" ]; then
  FUZZ_FLAGS+=(--no-trace-compares --target-dir target/runs)
  LIMIT=(-runs="$FUZZ_RUNS")
fi

SEEDS=$(mktemp -d)
trap 'rm -rf "$SEEDS"' EXIT
# Real crates from crates.io as seeds: whole for crate_file, un-gzipped for crate_tar.
mkdir -p "$SEEDS/crate_file" "$SEEDS/crate_tar" "$SEEDS/publish_frame" "$SEEDS/router" "$SEEDS/readme"
for f in ../../tarball/tests/data/*.crate; do
  # crate_file's selector byte 0: the seed's own name and version.
  { printf '\0'; cat "$f"; } >"$SEEDS/crate_file/$(basename "$f")"
  gzip -dc <"$f" >"$SEEDS/crate_tar/$(basename "$f" .crate).tar"
done
# crate_tar also gets a small whole crate, within its input limit (below).
python3 - "$SEEDS/crate_tar/small.tar" <<'PY'
import io, sys, tarfile
manifest = (b'[package]\nname = "semver"\nversion = "1.0.28"\nedition = "2021"\n'
            b'description = "d"\nlicense = "MIT"\nreadme = "README.md"\n'
            b'[dependencies]\nserde = { version = "1", optional = true }\n[features]\nstd = []\n')
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    for path, data in [("Cargo.toml", manifest), ("Cargo.toml.orig", manifest),
                       ("README.md", b"# semver\n"), ("src/lib.rs", b"")]:
        info = tarfile.TarInfo(f"semver-1.0.28/{path}"); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
PY
python3 - "$SEEDS/publish_frame/minimal" <<'PY'
import struct, sys
meta = b'{"name":"foo","vers":"1.0.0","deps":[{"name":"bar","version_req":"^1"}]}'
open(sys.argv[1], "wb").write(struct.pack("<I", len(meta)) + meta + struct.pack("<I", 3) + b"tar")
PY
# router: method byte, credentials byte, path, headers, blank line, body.
printf '\000\000/main/index/config.json\n\n' >"$SEEDS/router/index"
printf '\001\001/main/api/v1/crates/new\ncontent-type: application/octet-stream\n\n' >"$SEEDS/router/publish"
cat "$SEEDS/publish_frame/minimal" >>"$SEEDS/router/publish"
printf '\000\002/main/api/v1/crates?q=foo&per_page=5\n\n' >"$SEEDS/router/search"
printf '\001\002/api/v1/tokens\ncontent-type: application/json\n\n{"name":"x","scopes":["read"],"expires":"1d"}' >"$SEEDS/router/token"
printf '\003\001/main/api/v1/crates/foo/1.0.0/yank\n\n' >"$SEEDS/router/yank"
printf '\001\002/main/crates/foo/foo-1.0.0.crate\n\n' >"$SEEDS/router/upload"
crates=(../../tarball/tests/data/*.crate)
head -c 4000 "${crates[0]}" >>"$SEEDS/router/upload"
# readme: README path, repository, Markdown.
printf 'README.md\nhttps://github.com/acme/widget\n# Widget\n\n<script>x</script> [a](docs/a.md) ![i](i.png) | t |\n|---|\n' >"$SEEDS/readme/basic"

cargo fuzz build "${FUZZ_FLAGS[@]}"
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target for ${FUZZ_RUNS:-${SECONDS_PER_TARGET}s}${FUZZ_RUNS:+ executions}"
  status=0
  # crate_tar: the tar layer's headers and paths need no large crate
  # (small.tar is one); inputs as long as the real seeds (200 KB) made each
  # execution 4x slower.
  EXTRA=()
  [ "$target" != crate_tar ] || EXTRA=(-max_len=16384)
  cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "corpus/$target" "$SEEDS/$target" -- \
    "${LIMIT[@]}" "${EXTRA[@]}" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    >"$SEEDS/$target.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$SEEDS/$target.log"
    echo "fuzz target $target failed (exit $status): the input is under $(pwd)/artifacts/$target"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE|^Done [0-9]+ runs' "$SEEDS/$target.log" || true
done
