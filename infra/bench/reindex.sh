#!/usr/bin/env bash
# `crateyard reindex` throughput (crates/s) on a generated registry, local
# mode: rebuilding every derived file (index files, crate pages, version
# pages, READMEs, each with its object metadata, an extended attribute of
# the file) after they were lost (moved away), then after they were deleted
# a moment before, and a pass where every file is already right. Next to
# each, the file-system floor measured in the same run: copying (resp.
# reading) the same files with cp -r (resp. cat). Nothing is pinned to a
# core; the machine's core count and load are printed beside the figures,
# since other work on the machine moves them.
# Usage: infra/bench/reindex.sh [CRATES]   (default 10000; loopback only)
# CRATEYARD_BIN=path/to/crateyard measures another build (no cargo build).
# CRATEYARD_BENCH_TMP=dir runs it in dir (/dev/shm: on tmpfs, where no
# disk and no ext4 inode allocator weighs on either side).
# CRATEYARD_BENCH_DATA=dir keeps the generated registry in dir and reuses it
# on the next run with the same CRATES (generating is most of the bench's
# time: every publish also updates the git index). Delete dir after a change
# to the generator below or to the data directory's layout: only CRATES is
# checked.
set -euo pipefail
export LC_ALL=C  # a "." in $EPOCHREALTIME
cd "$(dirname "$0")/../.."
. infra/bench/common.sh
CRATES=${1:-10000}
[ -n "${CRATEYARD_BIN:-}" ] || cargo build --release -q -p crateyard_server
BIN=$(realpath "${CRATEYARD_BIN:-target/release/crateyard}")
WORK=$(mktemp -d -p "${CRATEYARD_BENCH_TMP:-${TMPDIR:-/tmp}}")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
# Free when asked; the server refuses clearly if another process takes it first.
PORT=$(free_port)
KEPT=${CRATEYARD_BENCH_DATA:-}
# Only a directory this script made (or an empty or new one) is written to.
if [ -n "$KEPT" ] && [ -n "$(ls -A "$KEPT" 2>/dev/null)" ] && [ ! -f "$KEPT/crates" ]; then
  echo "CRATEYARD_BENCH_DATA=$KEPT holds files this bench did not write; name a new directory"; exit 1
fi
if [ -n "$KEPT" ] && [ "$(cat "$KEPT/crates" 2>/dev/null)" = "$CRATES" ]; then
  echo "reusing the registry generated in $KEPT"
  cp -a "$KEPT/data" "$WORK/data"
else

"$BIN" serve --data "$WORK/data" --addr "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/main/index/config.json" >/dev/null && break; sleep 0.1; done
kill -0 "$SERVER" 2>/dev/null || { echo "the server did not start on port $PORT:"; cat "$WORK/serve.log"; exit 1; }
TOKEN=$("$BIN" token create --data "$WORK/data" --user bench)

# Direct uploads over one keep-alive connection; every 10th crate gets 5
# versions; every version has a README.
python3 - "$PORT" "$TOKEN" "$CRATES" <<'PY'
import gzip, http.client, io, sys, tarfile
port, token, crates = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
def crate(name, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        manifest = (f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
                    f'description = "bench"\nreadme = "README.md"\n'
                    f'[dependencies]\nserde = "1"\n[features]\nstd = []\n').encode()
        readme = f'# {name}\n\nA *bench* crate, version `{version}`.\n'.encode()
        for path, data in [("Cargo.toml", manifest), ("README.md", readme), ("src/lib.rs", b"")]:
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
if [ -n "$KEPT" ]; then
  rm -rf "${KEPT:?}/crates" "${KEPT:?}/data"; mkdir -p "$KEPT"; cp -a "$WORK/data" "$KEPT/data"; echo "$CRATES" >"$KEPT/crates"
fi
fi

# Everything reindex derives for the repository, by directory of the data dir.
DERIVED=(objects/main/index objects/main/ui/crates objects/main/ui/versions objects/main/ui/readmes)
count() { (cd "$1" && find "${DERIVED[@]}" -type f ! -name config.json | wc -l); }
FILES=$(count "$WORK/data")
# Lost: moved out of the data directory, where the reference copies from.
LOST=$WORK/lost
lose() { for d in "${DERIVED[@]}"; do mkdir -p "$LOST/${d%/*}"; mv "$WORK/data/$d" "$LOST/$d"; done; }
delete() { for d in "${DERIVED[@]}"; do rm -rf "${WORK:?}/data/$d"; done; }
copy() { mkdir -p "$1"; (cd "$LOST" && cp -r --parents "${DERIVED[@]}" "$1"); }

# Bash's own clock: no process started inside a measurement.
secs() { echo "$EPOCHREALTIME"; }
elapsed() { local end=$EPOCHREALTIME; python3 -c "print('%.2f' % ($end - $1))"; }
reindex() { "$BIN" reindex --data "$WORK/data" --public-url "http://127.0.0.1:$PORT" 2>/dev/null; }
rebuilt() {
  [ "$(count "$WORK/data")" = "$FILES" ] || { echo "reindex rebuilt $(count "$WORK/data") files, not $FILES"; exit 1; }
  for d in "${DERIVED[@]}"; do
    diff -r "$WORK/data/$d" "$LOST/$d" --exclude=config.json >/dev/null || { echo "rebuilt $d differs"; exit 1; }
  done
}

# Once, untimed: the first reindex of a generated registry also packs its
# git index (each publish left its objects loose), which a registry
# reindexed before has done; the timed runs must not carry it.
reindex

# Lost files, moved away: nothing is freed, so each side creates its files
# on a file system in the same state.
lose
sync; LOAD_BEFORE=$(machine_load)
start=$(secs); copy "$WORK/copy"; CP=$(elapsed "$start")
start=$(secs); find "$LOST" -type f -print0 | xargs -0 cat >/dev/null; CAT=$(elapsed "$start")
sync; start=$(secs); reindex; REBUILD=$(elapsed "$start")
rebuilt
# Current: the median of three runs (each takes well under a second),
# after the rebuild's writes reached the disk.
sync
VERIFY=$(for _ in 1 2 3; do start=$(secs); reindex; elapsed "$start"; done | sort -n | sed -n 2p)
# Files deleted a moment before. On ext4 without a journal (this machine's)
# each new inode skips those freed in the last 60 s, or 300 s while their
# inode table block is dirty (`recently_deleted` in fs/ext4/ialloc.c), a
# scan that grows with what was just deleted; each side first deletes as
# many files as it creates.
delete; sync; start=$(secs); reindex; REBUILD_DELETED=$(elapsed "$start")
rebuilt
rm -rf "$WORK/copy"; sync; start=$(secs); copy "$WORK/copy"; CP_DELETED=$(elapsed "$start")
LOAD_AFTER=$(machine_load)

rate() { python3 -c "print('%.0f' % ($CRATES / $1))"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf '\nreindex, %s crates (%s derived files: index files, pages, READMEs)\n' "$CRATES" "$FILES"
printf 'before: %s; after: %s\n\n' "$LOAD_BEFORE" "$LOAD_AFTER"
printf '| case | crateyard reindex | reference | ratio (reference / ours) |\n|---|---|---|---|\n'
printf '| every derived file lost (moved away) | %s s (%s crates/s) | cp -r of the same files: %s s (%s crates/s) | %s |\n' "$REBUILD" "$(rate "$REBUILD")" "$CP" "$(rate "$CP")" "$(ratio "$CP" "$REBUILD")"
printf '| every derived file deleted a moment before | %s s (%s crates/s) | cp -r, its copy deleted a moment before: %s s (%s crates/s) | %s |\n' "$REBUILD_DELETED" "$(rate "$REBUILD_DELETED")" "$CP_DELETED" "$(rate "$CP_DELETED")" "$(ratio "$CP_DELETED" "$REBUILD_DELETED")"
printf '| every derived file current | %s s (%s crates/s) | cat of the same files: %s s (%s crates/s) | %s |\n' "$VERIFY" "$(rate "$VERIFY")" "$CAT" "$(rate "$CAT")" "$(ratio "$CAT" "$VERIFY")"
