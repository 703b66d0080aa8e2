#!/usr/bin/env bash
# `crateyard reindex` throughput (crates/s) on a generated registry, local
# mode, pinned to one core: rebuilding every index file after they were all
# deleted, and a pass where every file is already right. Next to each, the
# file-system floor measured in the same run: copying (resp. reading) the
# same index files with cp (resp. cat).
# Usage: infra/bench/reindex.sh [CRATES]   (default 10000; loopback only)
# CRATEYARD_BIN=path/to/crateyard measures another build (no cargo build).
set -euo pipefail
cd "$(dirname "$0")/../.."
CRATES=${1:-10000}
[ -n "${CRATEYARD_BIN:-}" ] || cargo build --release -q -p crateyard_server
BIN=$(realpath "${CRATEYARD_BIN:-target/release/crateyard}")
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
PORT=17883

taskset -c 0 "$BIN" serve --data "$WORK/data" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/main/index/config.json" >/dev/null && break; sleep 0.1; done
TOKEN=$("$BIN" token create --data "$WORK/data" --user bench)

# Direct uploads over one keep-alive connection; every 10th crate gets 5 versions.
taskset -c 1 python3 - "$PORT" "$TOKEN" "$CRATES" <<'PY'
import gzip, http.client, io, sys, tarfile
port, token, crates = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
def crate(name, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        manifest = (f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
                    f'description = "bench"\n[dependencies]\nserde = "1"\n[features]\nstd = []\n').encode()
        for path, data in [("Cargo.toml", manifest), ("src/lib.rs", b"")]:
            info = tarfile.TarInfo(f"{name}-{version}/{path}"); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)
for i in range(crates):
    name = f"crate{i}"
    for v in range(5 if i % 10 == 0 else 1):
        version = f"1.{v}.0"
        conn.request("PUT", f"/main/crates/{name}/{name}-{version}.crate", body=crate(name, version),
                     headers={"Authorization": token})
        res = conn.getresponse(); res.read()
        assert res.status == 201, (res.status, name)
PY
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
INDEX="$WORK/data/objects/main/index"
FILES=$(find "$INDEX" -type f ! -name config.json | wc -l)

secs() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "print('%.2f' % ($(secs) - $1))"; }
reindex() { taskset -c 0 "$BIN" reindex --data "$WORK/data" --public-url "http://127.0.0.1:$PORT" 2>/dev/null; }

# Reference: the same files copied, then read, by plain tools. The copy is
# timed after the deletion too: the file system then has as many freshly
# freed inodes for it as for reindex.
cp -r "$INDEX" "$WORK/copy"
find "$INDEX" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
sync; start=$(secs); taskset -c 0 cp -r "$WORK/copy" "$WORK/copy2"; CP=$(elapsed "$start")
start=$(secs); find "$WORK/copy" -type f -print0 | taskset -c 0 xargs -0 cat >/dev/null; CAT=$(elapsed "$start")
rm -rf "$WORK/copy2"
sync; start=$(secs); reindex; REBUILD=$(elapsed "$start")
[ "$(find "$INDEX" -type f ! -name config.json | wc -l)" = "$FILES" ] || { echo "reindex rebuilt the wrong number of files"; exit 1; }
diff -r "$INDEX" "$WORK/copy" --exclude=config.json >/dev/null || { echo "rebuilt index differs"; exit 1; }
start=$(secs); reindex; VERIFY=$(elapsed "$start")

rate() { python3 -c "print('%.0f' % ($CRATES / $1))"; }
printf '\nreindex, %s crates (%s index files), one core (s, crates/s)\n\n' "$CRATES" "$FILES"
printf '| case | crateyard reindex | reference | ratio (reference / ours) |\n|---|---|---|---|\n'
printf '| every index file missing | %s s (%s crates/s) | cp -r of the index: %s s | %.2f |\n' "$REBUILD" "$(rate "$REBUILD")" "$CP" "$(python3 -c "print($CP / $REBUILD)")"
printf '| every index file current | %s s (%s crates/s) | cat of the index: %s s | %.2f |\n' "$VERIFY" "$(rate "$VERIFY")" "$CAT" "$(python3 -c "print($CAT / $VERIFY)")"
