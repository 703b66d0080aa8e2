#!/usr/bin/env bash
# Sparse-index read throughput: crateyard (local mode) against nginx serving
# the very same files, each pinned to one core with wrk on the other.
# Prints a table of requests/s for 200s, 304 revalidations (If-None-Match
# and If-Modified-Since) and .crate downloads: the median of ROUNDS runs per
# side, the sides alternating so that outside load hits both alike.
# Usage: infra/bench/reads.sh [DURATION_SECONDS] [ROUNDS]   (loopback only; stops by itself)
# CRATEYARD_BIN=path/to/crateyard compares another build (no cargo build).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/bench/common.sh
DURATION=${1:-5}
ROUNDS=${2:-3}
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
}
if [ -z "${CRATEYARD_BIN:-}" ]; then
  cargo build --release -q -p crateyard_server
fi
BIN=$(realpath "${CRATEYARD_BIN:-target/release/crateyard}")
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run unprivileged
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT

PORT_CY=$(free_port); PORT_NGINX=$(free_port)
LOAD_BEFORE=$(machine_load)
taskset -c 0 "$BIN" serve --data "$WORK/data" --addr "127.0.0.1:$PORT_CY" >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT_CY/main/index/config.json" >/dev/null && break; sleep 0.1; done
TOKEN=$("$BIN" token create --data "$WORK/data" --user bench)

# A crate with 30 versions: an index file of realistic size (~10 KB).
python3 - "$WORK" <<'PY'
import io, sys, tarfile, gzip, os
work = sys.argv[1]
for i in range(30):
    v = f"1.{i}.0"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for path, data in [("Cargo.toml", f'[package]\nname = "benchcrate"\nversion = "{v}"\nedition = "2021"\ndescription = "bench"\n[dependencies]\nserde = "1"\nlibc = {{ version = "0.2", optional = true }}\n[features]\ndefault = ["std"]\nstd = []\n'.encode()), ("src/lib.rs", b"")]:
            info = tarfile.TarInfo(f"benchcrate-{v}/{path}"); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    open(os.path.join(work, f"benchcrate-{v}.crate"), "wb").write(gzip.compress(buf.getvalue()))
PY
for i in $(seq 0 29); do
  curl -sf -X PUT -H "Authorization: Bearer $TOKEN" --data-binary @"$WORK/benchcrate-1.$i.0.crate" \
    "http://127.0.0.1:$PORT_CY/main/crates/benchcrate/benchcrate-1.$i.0.crate" >/dev/null
done
INDEX_PATH=main/index/be/nc/benchcrate
SIZE=$(stat -c %s "$WORK/data/objects/$INDEX_PATH")

cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/octet-stream crate; }
  default_type text/plain;
  server {
    listen 127.0.0.1:$PORT_NGINX;
    root $WORK/data/objects;
    etag on;
  }
}
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf"
sleep 0.3

run() { # url [header] -> requests/s
  local out
  if [ -n "${2:-}" ]; then
    out=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -H "$2" "$1")
  else
    out=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" "$1")
  fi
  if echo "$out" | grep -q 'Non-2xx or 3xx'; then echo "errors from $1: $out" >&2; exit 1; fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}
header() { curl -sI "$1" | awk -F': ' -v h="$2" 'tolower($1)==h {print $2}' | tr -d '\r'; }
median() { python3 -c 'import sys, statistics; print("%.0f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

CY="http://127.0.0.1:$PORT_CY"; NG="http://127.0.0.1:$PORT_NGINX"
CRATE_PATH=main/crates/benchcrate/benchcrate-1.29.0.crate
for base in "$CY" "$NG"; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $(header "$base/$INDEX_PATH" etag)" "$base/$INDEX_PATH")" = 304 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $(header "$base/$INDEX_PATH" last-modified)" "$base/$INDEX_PATH")" = 304 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/main/index/no/ne/nonexistent")" = 404 ]
  cmp -s <(curl -s "$base/$CRATE_PATH") "$WORK/benchcrate-1.29.0.crate"
done

CASES=("200|$INDEX_PATH|" "304 If-None-Match|$INDEX_PATH|etag" "304 If-Modified-Since|$INDEX_PATH|last-modified" ".crate 200|$CRATE_PATH|")
declare -A RESULTS
for _ in $(seq "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    IFS='|' read -r name path validator <<<"$case"
    for side in CY NG; do
      base=${!side}; extra=""
      if [ "$validator" = etag ]; then extra="If-None-Match: $(header "$base/$path" etag)"; fi
      if [ "$validator" = last-modified ]; then extra="If-Modified-Since: $(header "$base/$path" last-modified)"; fi
      RESULTS[$name-$side]+=" $(run "$base/$path" "$extra")"
    done
  done
done
RSS=$(ps -o rss= -p "$(pgrep -f "$BIN serve --data $WORK/data")" | tr -d ' ')

printf '\nSparse-index reads, %s-byte index file, 1 server core, wrk -t1 -c32 -d%ss, median of %s rounds\n' "$SIZE" "$DURATION" "$ROUNDS"
printf 'before: %s\n\n' "$LOAD_BEFORE"
printf '| case | crateyard req/s | nginx req/s | ratio |\n|---|---|---|---|\n'
for case in "${CASES[@]}"; do
  name=${case%%|*}
  cy=$(median ${RESULTS[$name-CY]}); ng=$(median ${RESULTS[$name-NG]})
  printf '| %s | %s | %s | %.2f |\n' "$name" "$cy" "$ng" "$(python3 -c "print($cy/$ng)")"
done
printf '\ncrateyard resident memory after the runs: %s KiB; after: %s\n' "$RSS" "$(machine_load)"
