#!/usr/bin/env bash
# Fuzz Palisade's untrusted-input paths with cargo-fuzz (libFuzzer), one
# target at a time, and print per target: runs, coverage, corpus, findings.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     (default: 600 s each, every target)
#
# Targets: parse_activity html_text config lists judge.
#
# It installs cargo-fuzz if missing, builds the targets once, seeds
# fuzz/corpus/<target>/ from the project's real payloads, configurations
# and lists (plus the hand-written fuzz/seeds/<target>/), replays the
# minimised findings in fuzz/regressions/<target>/ (reporting which still
# fail), then fuzzes each target for SECONDS.
#
# Environment:
#   FUZZ_SANITIZER  none (default) or address. The code under test is safe
#                   Rust, so panics and broken invariants are what we look
#                   for; AddressSanitizer roughly halves the speed.
#   FUZZ_FORK       1 (default): keep going after a finding (libFuzzer's
#                   -fork=1 with -ignore_crashes/-ignore_timeouts/-ignore_ooms,
#                   still one process at a time), so a long run reports every
#                   distinct finding; 0: stop at the first one.
#
# Only the stable toolchain is needed: cargo-fuzz's flags for
# `--sanitizer none` are all stable (-Cpasses=sancov-module, -Cllvm-args,
# --cfg fuzzing), and with FUZZ_SANITIZER=address the script sets
# RUSTC_BOOTSTRAP=1 so that the stable compiler accepts -Zsanitizer.
# Findings land in fuzz/artifacts/<target>/; logs in fuzz/logs/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

all_targets=(parse_activity html_text config lists judge)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
case $seconds in '' | *[!0-9]* | 0)
  echo "usage: fuzz/run.sh [SECONDS] [TARGET...]  (targets: ${all_targets[*]})" >&2
  exit 2
  ;;
esac
for t in "${targets[@]}"; do
  [ -f "$here/fuzz_targets/$t.rs" ] || { echo "unknown target $t (targets: ${all_targets[*]})" >&2; exit 2; }
done

sanitizer=${FUZZ_SANITIZER:-none}
fork=${FUZZ_FORK:-1}
# cargo-fuzz passes -Zsanitizer=... for a sanitizer: nightly-only, so let
# the stable compiler accept it.
[ "$sanitizer" = none ] || export RUSTC_BOOTSTRAP=1
# The bundled modules host/build.rs compiles to wasm do not depend on how the
# host is instrumented: share the main build's copy instead of a second one.
export PALISADE_GUEST_TARGET_DIR=${PALISADE_GUEST_TARGET_DIR:-$root/target/guest}
triple=$(rustc -vV | awk '/^host:/ {print $2}')

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

echo "== building the fuzz targets (sanitizer: $sanitizer)"
mkdir -p "$here/logs"
# Every target at once: they share one build of palisade and its
# dependencies, and a target then costs seconds.
if ! nice -n 10 cargo fuzz build --fuzz-dir "$here" --sanitizer "$sanitizer" > "$here/logs/build.log" 2>&1; then
  tail -n 40 "$here/logs/build.log" >&2
  echo "building the fuzz targets failed (fuzz/logs/build.log)" >&2
  exit 1
fi
bin_dir="$here/target/$triple/release"

# --- seeds ------------------------------------------------------------------
# Each seed is stored under its content hash, so reseeding adds nothing twice.
seed() { # target file...
  local dir="$here/corpus/$1" f
  shift
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp "$f" "$dir/seed-$(sha1sum < "$f" | cut -c1-16)"
  done
}
seed_lines() { # target file.jsonl: one seed per line
  local tmp line
  tmp=$(mktemp)
  while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    printf '%s' "$line" > "$tmp"
    seed "$1" "$tmp"
  done < "$2"
  rm -f "$tmp"
}
activities=(tests/corpus/public/*.json examples/activities/*.json)
for t in parse_activity judge; do
  seed "$t" "${activities[@]}" "$here"/seeds/parse_activity/*
  for f in examples/activities/*.jsonl; do seed_lines "$t" "$f"; done
done
# The HTML inside the real payloads: content, contentMap values, summary.
html_tmp=$(mktemp -d)
if command -v python3 >/dev/null; then
  python3 - "$html_tmp" "${activities[@]}" <<'PY'
import json, sys, hashlib, os
out = sys.argv[1]
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("content", "summary") and isinstance(x, str):
                yield x
            elif k == "contentMap" and isinstance(x, dict):
                yield from (s for s in x.values() if isinstance(s, str))
            else:
                yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)
for path in sys.argv[2:]:
    try:
        doc = json.load(open(path, encoding="utf-8"))
    except Exception:
        continue
    for html in walk(doc):
        if html:
            data = html.encode()
            open(os.path.join(out, hashlib.sha1(data).hexdigest()[:16]), "wb").write(data)
PY
fi
seed html_text "$html_tmp"/* "$here"/seeds/html_text/*
rm -rf "$html_tmp"
seed config examples/palisade.toml examples/deploy/palisade.toml host/src/default.toml "$here"/seeds/config/*
seed lists examples/lists/* "$here"/seeds/lists/*

# --- libFuzzer settings -----------------------------------------------------
dict_of() {
  case $1 in
    parse_activity | judge) echo activity ;;
    html_text) echo html ;;
    config) echo config ;;
    lists) echo lists ;;
  esac
}
max_len_of() {
  case $1 in
    config | lists) echo 65536 ;;   # a configuration or list file
    *) echo 1048576 ;;              # an inbox body: server.body_limit_kib
  esac
}
common=(-rss_limit_mb=2048 -timeout=25 -print_final_stats=1)
[ "$fork" = 1 ] && common+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)

# --- regressions: minimised findings, replayed ------------------------------
declare -A still_failing
for t in "${targets[@]}"; do
  still_failing[$t]=0
  for f in "$here/regressions/$t"/*; do
    [ -f "$f" ] || continue
    if "$bin_dir/$t" -rss_limit_mb=2048 -timeout=25 "$f" > "$here/logs/$t.regression.log" 2>&1; then
      echo "regression $t/$(basename "$f"): passes (fixed)"
    else
      echo "regression $t/$(basename "$f"): STILL FAILS ($(grep -m1 -E 'panicked at|ERROR: libFuzzer' "$here/logs/$t.regression.log" | sed 's/^ *//'))"
      still_failing[$t]=$((still_failing[$t] + 1))
    fi
  done
done

# --- fuzz, one target at a time ---------------------------------------------
summary=()
for t in "${targets[@]}"; do
  art="$here/artifacts/$t"
  mkdir -p "$art"
  log="$here/logs/$t.log"
  marker=$(mktemp)
  echo "== fuzzing $t for ${seconds}s (log: ${log#"$root"/})"
  set +e
  (cd "$here" && nice -n 10 "$bin_dir/$t" "${common[@]}" \
    -max_total_time="$seconds" -max_len="$(max_len_of "$t")" \
    -dict="$here/dicts/$(dict_of "$t").dict" -artifact_prefix="$art/" \
    "$here/corpus/$t") > "$log" 2>&1
  status=$?
  set -e
  # The last status line: "#RUNS ... cov: C ft: F corp: N ..." (fork mode
  # adds "oom/timeout/crash: a/b/c"); final stats give the exact run count.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  runs=$(grep -m1 -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' || true)
  [ -n "$runs" ] || runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<< "$last")
  cov=$(grep -oE 'cov: [0-9]+' <<< "$last" | awk '{print $2}' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<< "$last" | awk '{print $2}' || true)
  corp=$(grep -oE 'corp: [0-9]+' <<< "$last" | awk '{print $2}' || true)
  new_findings=$(find "$art" -type f -newer "$marker")
  found=$(grep -c . <<< "$new_findings" || true)
  rm -f "$marker"
  # Where the new findings fail: each replayed, grouped by the panic's place
  # (or libFuzzer's verdict: timeout, out-of-memory).
  if [ "$found" -gt 0 ]; then
    echo "   findings of $t, by where they fail (replayed one by one):"
    while IFS= read -r f; do
      out=$("$bin_dir/$t" -rss_limit_mb=2048 -timeout=25 "$f" 2>&1 | tr -d '\0' || true)
      grep -m1 -oE 'panicked at [^ ]+|ERROR: libFuzzer: [a-z-]+' <<< "$out" || echo "passes on replay (flaky, e.g. a timeout)"
    done <<< "$new_findings" | sed "s|$root/||" | sort | uniq -c | sed 's/^/   /'
    echo "   first: ${new_findings%%$'\n'*}"
  fi
  summary+=("$(printf '%-15s %12s %8s %8s %8s %9s %9s %7s' "$t" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$found" "${still_failing[$t]}" "$status")")
done

echo
echo "fuzz/run.sh ${seconds}s per target, sanitizer $sanitizer, fork $fork"
printf '%-15s %12s %8s %8s %8s %9s %9s %7s\n' target runs cov features corpus findings old-fail exit
printf '%s\n' "${summary[@]}"
echo "(findings: new files in fuzz/artifacts/<target>/; old-fail: reproducers in fuzz/regressions/<target>/ that still fail)"
