#!/usr/bin/env bash
# The real cargo against the registry, local mode, each side pinned to one core:
#  1. `cargo publish` wall time (packaging, upload, waiting for the index),
#     next to the server-side time of the same .crate files uploaded
#     directly to a second server (its Server-Timing header);
#  2. a consumer `cargo fetch` and `cargo build` with a cold cargo cache,
#     through crateyard and through nginx serving a copy of the same index
#     and crate files (config.json pointing at nginx).
# Usage: infra/bench/cargo.sh [CRATES] [RUNS]   (loopback only; stops by itself)
# CRATEYARD_BIN=path/to/crateyard measures another build (no cargo build).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/bench/common.sh
CRATES=${1:-12}
RUNS=${2:-3}
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
[ -n "${CRATEYARD_BIN:-}" ] || cargo build --release -q -p crateyard_server
BIN=$(realpath "${CRATEYARD_BIN:-target/release/crateyard}")
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run unprivileged
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT
PORT_CY=$(free_port); PORT_REF=$(free_port); PORT_NGINX=$(free_port)
LOAD_BEFORE=$(machine_load)

serve() { # data-dir port
  taskset -c 0 "$BIN" serve --data "$1" --addr "127.0.0.1:$2" >/dev/null 2>&1 &
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/main/index/config.json" >/dev/null && return; sleep 0.1; done
  echo "server on port $2 did not start" >&2; exit 1
}
now_ms() { python3 -c 'import time; print(time.monotonic_ns() // 1000000)'; }
median() { python3 -c 'import sys, statistics; print("%.0f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

serve "$WORK/data" "$PORT_CY"
serve "$WORK/ref" "$PORT_REF"
TOKEN=$("$BIN" token create --data "$WORK/data" --user bench)
REF_TOKEN=$("$BIN" token create --data "$WORK/ref" --user bench)

# A real crate from crates.io (no required dependencies), and a chain of
# generated crates, each depending on the two before it.
curl -sf -X PUT -H "Authorization: $TOKEN" --data-binary @functions/tarball/tests/data/semver-1.0.28.crate \
  "http://127.0.0.1:$PORT_CY/main/crates/semver/semver-1.0.28.crate" >/dev/null
for i in $(seq 0 $((CRATES - 1))); do
  dir="$WORK/src/layer$i"; mkdir -p "$dir/src"
  deps=""; body="$i"
  for d in $((i - 1)) $((i - 2)); do
    [ "$d" -ge 0 ] || continue
    deps+="layer$d = { version = \"0.1\", registry = \"bench\" }"$'\n'
    body+=" + layer$d::value()"
  done
  printf '[package]\nname = "layer%s"\nversion = "0.1.0"\nedition = "2021"\ndescription = "bench"\nlicense = "MIT"\n\n[dependencies]\n%s' "$i" "$deps" >"$dir/Cargo.toml"
  printf 'pub fn value() -> u64 { %s }\n' "$body" >"$dir/src/lib.rs"
done

export CARGO_REGISTRIES_BENCH_INDEX="sparse+http://127.0.0.1:$PORT_CY/main/index/"
export CARGO_REGISTRIES_BENCH_TOKEN="$TOKEN"
export CARGO_TARGET_DIR="$WORK/target"
export CARGO_HOME="$WORK/publisher-home"
unset RUSTFLAGS CARGO_BUILD_TARGET_DIR
publish_ms=()
for i in $(seq 0 $((CRATES - 1))); do
  start=$(now_ms)
  (cd "$WORK/src/layer$i" && taskset -c 1 cargo publish -q --registry bench --no-verify --allow-dirty 2>/dev/null)
  publish_ms+=($(( $(now_ms) - start )))
done
server_ms=()
for i in $(seq 0 $((CRATES - 1))); do
  file="$WORK/layer$i-0.1.0.crate"  # exactly what cargo uploaded
  curl -sf -o "$file" "http://127.0.0.1:$PORT_CY/main/crates/layer$i/layer$i-0.1.0.crate"
  timing=$(curl -sf -D - -o /dev/null -X PUT -H "Authorization: $REF_TOKEN" --data-binary @"$file" \
    "http://127.0.0.1:$PORT_REF/main/crates/layer$i/layer$i-0.1.0.crate" | tr -d '\r' | awk -F'dur=' 'tolower($0) ~ /^server-timing/ {print $2}')
  server_ms+=("$timing")
done

# nginx on a copy of the files, with config.json pointing at it.
cp -r "$WORK/data/objects" "$WORK/nginx-root"
sed -i "s/127.0.0.1:$PORT_CY/127.0.0.1:$PORT_NGINX/g" "$WORK/nginx-root/main/index/config.json"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$PORT_NGINX; root $WORK/nginx-root; etag on; }
}
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf"

APP="$WORK/app"; mkdir -p "$APP/src"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nsemver = { version = "1", registry = "bench" }\nlayer%s = { version = "0.1", registry = "bench" }\n' \
  "$((CRATES - 1))" >"$APP/Cargo.toml"
printf 'fn main() { println!("{} {}", semver::Version::new(1, 2, 3), layer%s::value()); }\n' "$((CRATES - 1))" >"$APP/src/main.rs"

consume() { # index-url step -> ms, with a cold cargo home and target dir
  local home="$WORK/consumer-home" start
  rm -rf "$home" "$APP/target" "$APP/Cargo.lock"
  start=$(now_ms)
  (cd "$APP" && CARGO_HOME="$home" CARGO_TARGET_DIR="$APP/target" CARGO_REGISTRIES_BENCH_INDEX="$1" \
    taskset -c 1 cargo "$2" -q >/dev/null 2>&1)
  echo $(( $(now_ms) - start ))
}
declare -A results
for step in fetch build; do
  for side in cy ng; do results[$step-$side]=""; done
  for _ in $(seq "$RUNS"); do  # alternate, so load changes hit both sides alike
    results[$step-cy]+=" $(consume "sparse+http://127.0.0.1:$PORT_CY/main/index/" "$step")"
    results[$step-ng]+=" $(consume "sparse+http://127.0.0.1:$PORT_NGINX/main/index/" "$step")"
  done
done

printf '\nbefore: %s; after: %s\n' "$LOAD_BEFORE" "$(machine_load)"
printf '\ncargo publish, %s crates (ms, median)\n\n' "$CRATES"
printf '| measure | cargo publish wall | server-side, same .crate | ratio |\n|---|---|---|---|\n'
pw=$(median "${publish_ms[@]}"); sw=$(python3 -c 'import sys, statistics; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "${server_ms[@]}")
printf '| p50 | %s | %s | %.0f× |\n' "$pw" "$sw" "$(python3 -c "print($pw / $sw)")"
printf '\nConsumer with a cold cargo cache: %s registry crates + semver, %s runs each (ms, median)\n\n' "$CRATES" "$RUNS"
printf '| step | crateyard | nginx | ratio (nginx time / ours) |\n|---|---|---|---|\n'
for step in fetch build; do
  cy=$(median ${results[$step-cy]}); ng=$(median ${results[$step-ng]})
  printf '| cargo %s | %s | %s | %.2f |\n' "$step" "$cy" "$ng" "$(python3 -c "print($ng / $cy)")"
done
