#!/usr/bin/env bash
# The newcomer's first build: clean-build time of `crateyard` (what
# the README's "Run it" compiles) for several
# release profiles, each in its own empty target directory, then
# infra/bench/reads.sh against each binary, all in one run.
# Usage: infra/bench/first_build.sh [LTO:CODEGEN_UNITS[:no-aws] ...]
#   (default: thin:16:no-aws thin:16 fat:1; `:no-aws` builds with
#   --no-default-features, as the README's "Run it" does: no AWS SDK)
# Profiles are applied with cargo's CARGO_PROFILE_RELEASE_* variables, so the
# workspace's own [profile.release] is overridden, not edited. Each target
# directory (a few GB) is deleted once its binary is copied out.
# Wall time is what a newcomer waits; CPU time (user + system, of cargo and
# every rustc) is what to compare on a shared machine, where the wall time
# follows the other builds' load. Set SKIP_READS=1 to time the builds only,
# KEEP=DIR to keep the binaries there (for reads.sh with CRATEYARD_BIN later).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PROFILES=("$@")
[ ${#PROFILES[@]} -gt 0 ] || PROFILES=(thin:16:no-aws thin:16 fat:1)
WORK=$(mktemp -d /work/fh-clean-XXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cargo fetch --locked -q  # downloads are not build time

declare -A SECS CPU SIZE LOADS
for p in "${PROFILES[@]}"; do
  IFS=: read -r lto cgu features <<< "$p"
  features_flag=()
  [ "$features" != no-aws ] || features_flag=(--no-default-features)
  target="$WORK/target-$lto-$cgu"
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  CARGO_TARGET_DIR=$target CARGO_PROFILE_RELEASE_LTO=$lto CARGO_PROFILE_RELEASE_CODEGEN_UNITS=$cgu \
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
    cargo build --locked --release -q -p crateyard_server --bin crateyard "${features_flag[@]}"
  read -r wall user sys < "$WORK/time"
  SECS[$p]=$(python3 -c "print(round($wall))")
  CPU[$p]=$(python3 -c "print(round($user + $sys))")
  LOADS[$p]="$load_before → $(cut -d' ' -f1-3 /proc/loadavg)"
  cp "$target/release/crateyard" "$WORK/crateyard-$lto-$cgu$features"
  SIZE[$p]=$(stat -c %s "$WORK/crateyard-$lto-$cgu$features")
  [ -z "${KEEP:-}" ] || { mkdir -p "$KEEP" && cp "$WORK/crateyard-$lto-$cgu$features" "$KEEP/"; }
  rm -rf "$target"
  echo "built $p in ${SECS[$p]} s wall, ${CPU[$p]} s CPU (load ${LOADS[$p]})" >&2
done

printf '\nClean build of crateyard (release, %s cores), %s\n\n' "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)"
printf '| lto | codegen-units | features | clean build, wall | CPU (user + sys) | binary (stripped) | load average before → after |\n|---|---|---|---|---|---|---|\n'
for p in "${PROFILES[@]}"; do
  IFS=: read -r lto cgu features <<< "$p"
  printf '| %s | %s | %s | %s s | %s s | %.1f MB | %s |\n' "$lto" "$cgu" "${features:-default (aws)}" "${SECS[$p]}" "${CPU[$p]}" \
    "$(python3 -c "print(${SIZE[$p]}/1e6)")" "${LOADS[$p]}"
done
[ -n "${SKIP_READS:-}" ] && exit 0
for p in "${PROFILES[@]}"; do
  IFS=: read -r lto cgu features <<< "$p"
  printf '\n### reads, lto=%s codegen-units=%s %s\n' "$lto" "$cgu" "$features"
  CRATEYARD_BIN="$WORK/crateyard-$lto-$cgu$features" "$ROOT/infra/bench/reads.sh"
done
