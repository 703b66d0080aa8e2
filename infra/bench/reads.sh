#!/usr/bin/env bash
# Sparse-index read throughput: crateyard (local mode) against nginx serving
# the very same files, each pinned to one core with wrk on the other.
# Prints a table of requests/s for 200s and for 304 revalidations.
# Usage: infra/bench/reads.sh [DURATION_SECONDS]   (loopback only; stops by itself)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
}
cargo build --release -q -p crateyard_server
BIN=target/release/crateyard
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run unprivileged
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT

PORT_CY=17878; PORT_NGINX=17879
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
  types { text/plain txt; }
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

run() { # name url [header]
  local out
  if [ -n "${3:-}" ]; then
    out=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -H "$3" "$2")
  else
    out=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" "$2")
  fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}
etag() { curl -sI "$1" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r'; }

CY_URL="http://127.0.0.1:$PORT_CY/$INDEX_PATH"
NG_URL="http://127.0.0.1:$PORT_NGINX/$INDEX_PATH"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $(etag "$CY_URL")" "$CY_URL")" = 304 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $(etag "$NG_URL")" "$NG_URL")" = 304 ]

CY_200=$(run crateyard "$CY_URL"); NG_200=$(run nginx "$NG_URL")
CY_304=$(run crateyard "$CY_URL" "If-None-Match: $(etag "$CY_URL")")
NG_304=$(run nginx "$NG_URL" "If-None-Match: $(etag "$NG_URL")")
RSS=$(ps -o rss= -p "$(pgrep -f "$BIN serve --data $WORK/data")" | tr -d ' ')

printf '\nSparse-index reads, %s-byte index file, 1 server core, wrk -t1 -c32 -d%ss\n\n' "$SIZE" "$DURATION"
printf '| case | crateyard req/s | nginx req/s | ratio |\n|---|---|---|---|\n'
for c in 200 304; do
  cy=CY_$c; ng=NG_$c
  printf '| %s | %s | %s | %.2f |\n' "$c" "${!cy}" "${!ng}" "$(python3 -c "print(${!cy}/${!ng})")"
done
printf '\ncrateyard resident memory after the runs: %s KiB\n' "$RSS"
