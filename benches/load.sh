#!/usr/bin/env bash
# Load benchmark (not a test): throughput and latency of inbox POSTs through
# Palisade (four bundled modules, proxying to a minimal upstream) and
# directly against the same upstream, in the same run. See docs/PERFORMANCE.md.
#
#   bash benches/load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --locked -p palisade --bin palisade --example bench_upstream

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
target/release/examples/bench_upstream 127.0.0.1:9787 > "$work/upstream.log" &
cat > "$work/palisade.toml" <<TOML
[server]
listen = "127.0.0.1:9788"
upstream = "http://127.0.0.1:9787"
[quarantine]
path = "$work/palisade.db"
[decision_log]
output = "off"
TOML
PALISADE_LOG=warn target/release/palisade serve --config "$work/palisade.toml" &
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:9788/readyz >/dev/null 2>&1 && curl -sf -o /dev/null http://127.0.0.1:9787/ -X POST && break
  sleep 0.1
done

run() { # name url
  BODY=examples/activities/reply.json wrk -t2 -c"$conns" -d"${secs}s" --latency -s benches/post.lua "$2" > "$work/$1.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/$1.txt")
  printf '%-28s %12s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
  echo "$rps" > "$work/$1.rps"
}

echo "wrk -t2 -c$conns -d${secs}s, POST examples/activities/reply.json (2 KiB Create{Note}) to /users/alice/inbox"
run direct_upstream http://127.0.0.1:9787/users/alice/inbox
run through_palisade http://127.0.0.1:9788/users/alice/inbox
awk -v a="$(cat "$work/through_palisade.rps")" -v b="$(cat "$work/direct_upstream.rps")" \
  'BEGIN { printf "ratio: through_palisade / direct_upstream throughput = %.3f\n", a / b }'
