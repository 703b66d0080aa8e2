#!/usr/bin/env bash
# Builds the seven Lambda functions the way `sam build` does, zips each as
# SAM deploys it, and prints the sizes (README, Performance).
#
#   infra/build-lambdas.sh [x86_64] [arm64] [--time] [function...]
#
# Without an architecture it builds both (x86_64 first); without a function
# name, all seven. `--time` also starts each binary of the host's
# architecture five times and prints the time from exec to its first
# Runtime API call.
#
# What SAM runs (aws-lambda-builders' rust_cargo workflow, for
# `BuildMethod: rust-cargolambda` on provided.al2023): in the function's
# CodeUri, `cargo lambda build --release [--arm64] --bin <Binary>`, with the
# caller's environment and CARGO_TARGET_DIR set to the workspace's target
# directory; it copies target/lambda/<Binary>/bootstrap into the artifact,
# and `sam package`/`deploy` zips that directory (zipfile, deflate, mode
# 0755). BuildProperties take only `Binary`: no cargo flag can be passed,
# so `profile.lambda` is selected through cargo's profile environment, which
# SAM passes through. Run `sam build` with the same two variables.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

all_functions=(api reindex indexer invalidator downloads retention setup)
functions=()
archs=()
time_start=0
for arg in "$@"; do
    case "$arg" in
        x86_64 | arm64) archs+=("$arg") ;;
        --time) time_start=1 ;;
        api | reindex | indexer | invalidator | downloads | retention | setup) functions+=("$arg") ;;
        *) echo "usage: $0 [x86_64] [arm64] [--time] [api|reindex|indexer|invalidator|downloads|retention|setup...]" >&2; exit 64 ;;
    esac
done
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 arm64)
[ ${#functions[@]} -gt 0 ] || functions=("${all_functions[@]}")

# `cargo lambda build --release` builds `profile.release`; these make it the
# workspace's `profile.lambda` (release + opt-level "z" + panic "abort").
# cargo-lambda's own release defaults (strip, codegen-units 1, panic abort,
# thin LTO) give way to what Cargo.toml sets (fat LTO, strip, one unit).
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z}"
export CARGO_PROFILE_RELEASE_PANIC="${CARGO_PROFILE_RELEASE_PANIC:-abort}"

say() { printf '== %s\n' "$*" >&2; }

# cargo-lambda and its linker, zig, from PyPI (cargo-lambda finds zig as
# `python3 -m ziglang`).
if ! cargo lambda --version >/dev/null 2>&1; then
    say "installing cargo-lambda (pip)"
    python3 -m pip install --quiet cargo-lambda
fi
if ! command -v zig >/dev/null 2>&1 && ! python3 -c 'import ziglang' 2>/dev/null; then
    say "installing zig (pip: ziglang)"
    python3 -m pip install --quiet ziglang
fi
say "$(cargo lambda --version), $(rustc --version)"

target_dir=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
export CARGO_TARGET_DIR=$target_dir
out=$target_dir/lambda-zips

# SAM's zip of an artifact directory holding only `bootstrap`
# (samcli.lib.package.utils.make_zip: deflate at zlib's default level,
# Unix mode 0755, 1980 timestamps).
sam_zip() {
    python3 - "$1" "$2" <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap")
info.create_system = 3
info.external_attr = os.stat(src).st_mode << 16
with open(src, "rb") as f, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
    zf.writestr(info, f.read(), compress_type=zipfile.ZIP_DEFLATED)
EOF
}

mb() { python3 -c "print(f'{$1 / 1e6:.2f}')"; }

failed=()
built=()
for arch in "${archs[@]}"; do
    case "$arch" in
        x86_64) triple=x86_64-unknown-linux-gnu flag=--x86-64 ;;
        arm64) triple=aarch64-unknown-linux-gnu flag=--arm64 ;;
    esac
    # SAM passes no target flag for x86_64 (cargo-lambda's default target
    # is x86_64-unknown-linux-gnu); it is explicit here so that an arm64
    # machine builds the same thing.
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
        say "$arch: adding the $triple standard library (rustup target add)"
        if ! rustup target add "$triple"; then
            cat >&2 <<EOF
== $arch: NOT BUILT. \`rustup target add $triple\` failed: the $arch
   standard library is downloaded from static.rust-lang.org, which this
   machine may not reach (only package registries). zig links for $arch,
   but it cannot supply Rust's standard library. Build on a machine that
   can fetch it (or on an arm64 machine), or deploy with the template's
   Architecture=x86_64.
EOF
            failed+=("$arch")
            continue
        fi
    fi
    mkdir -p "$out/$arch/bin"
    for fn in "${functions[@]}"; do
        if [ -f "$target_dir/lambda/$fn" ]; then
            # `cargo build --profile lambda` puts its binaries in the same place.
            say "$target_dir/lambda/$fn is a file (from \`cargo build --profile lambda\`): cargo lambda writes $target_dir/lambda/$fn/bootstrap; remove $target_dir/lambda first"
            exit 1
        fi
        say "$arch: cargo lambda build --release $flag --bin $fn"
        start=$(date +%s)
        if ! (cd "$root" && cargo lambda build --release "$flag" --bin "$fn"); then
            say "$arch: $fn failed to build"
            failed+=("$arch/$fn")
            continue
        fi
        say "$arch: $fn built in $(($(date +%s) - start)) s"
        # The next architecture's build writes the same path: keep a copy.
        cp "$target_dir/lambda/$fn/bootstrap" "$out/$arch/bin/$fn"
        sam_zip "$out/$arch/bin/$fn" "$out/$arch/$fn.zip"
        built+=("$arch/$fn")
    done
done

if [ ${#built[@]} -gt 0 ]; then
    printf '\n| function | arch | bootstrap (bytes) | zip (bytes) | zip (MB) |\n|---|---|---|---|---|\n'
    for b in "${built[@]}"; do
        arch=${b%/*} fn=${b#*/}
        raw=$(stat -c %s "$out/$arch/bin/$fn")
        zip=$(stat -c %s "$out/$arch/$fn.zip")
        printf '| `%s` | %s | %s | %s | %s |\n' "$fn" "$arch" "$raw" "$zip" "$(mb "$zip")"
    done
    echo
    say "zips in $out/<arch>/<function>.zip (MB = 10^6 bytes)"
fi

# Exec → first Runtime API `next`, for the host's architecture only: each
# binary starts against a stand-in Runtime API that notes when the first
# `GET …/invocation/next` arrives (what the runtime tests print, without a
# test build). The environment is the stack's with dummy values: no
# function makes a network call before that poll.
if [ "$time_start" = 1 ]; then
    host_arch=$(uname -m)
    [ "$host_arch" = aarch64 ] && host_arch=arm64
    if [ ! -d "$out/$host_arch/bin" ]; then
        say "timing skipped: no $host_arch build to run here"
    else
        say "exec → first Runtime API next ($host_arch, 5 starts each)"
        python3 - "$out/$host_arch/bin" "${functions[@]}" <<'EOF'
import http.server, os, statistics, subprocess, sys, threading, time

class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/2018-06-01/runtime/invocation/next" and self.server.first is None:
            self.server.first = time.monotonic()
            self.server.polled.set()
        time.sleep(2)  # never answers: the process is killed

    def log_message(self, *args):
        pass

def start_time(binary):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.first, server.polled = None, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}",
        AWS_LAMBDA_FUNCTION_NAME="crateyard", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="t",
        AWS_LAMBDA_LOG_GROUP_NAME="t", AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1", RUST_LOG="warn",
        CRATEYARD_BUCKET="crateyard-test", CRATEYARD_TABLE="crateyard-test",
        CRATEYARD_PUBLIC_URL="https://registry.test",
        CRATEYARD_DISTRIBUTION_ID="E000000000000",
    )
    started = time.monotonic()
    child = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    polled = server.polled.wait(10)
    child.kill()
    child.wait()
    server.shutdown()
    return (server.first - started) * 1000 if polled else None

bin_dir, names = sys.argv[1], sys.argv[2:]
for name in names:
    runs = [start_time(os.path.join(bin_dir, name)) for _ in range(5)]
    if None in runs:
        print(f"| `{name}` | did not poll within 10 s |")
    else:
        print(f"| `{name}` | median {statistics.median(runs):.1f} ms (min {min(runs):.1f}, max {max(runs):.1f}) |")
EOF
    fi
fi

if [ ${#failed[@]} -gt 0 ]; then
    say "not built: ${failed[*]}"
    exit 2
fi
