#!/usr/bin/env bash
# Soak benchmark (not a test): MINUTES of mixed traffic through
# `palisade serve` (inbox proxy to a loopback upstream that answers 202),
# with the bundled modules and the hostile test module in the drop-in folder
# and a hot reload every ~20 s. Records the sidecar's RSS and open files at
# start, every minute and at the end, the request count and status
# histogram, and what the metrics counted; prints it all as tables.
# See docs/RELIABILITY.md, "Soak".
#
#   bash benches/soak.sh [MINUTES]      (default 10)
#
# Environment: SOAK_RATE (requests/s, default 300), SOAK_CONNECTIONS
# (default 4), SOAK_KEEP=1 keeps the work folder (logs, config, bodies).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
minutes=${1:-10}
case $minutes in '' | *[!0-9]* | 0) echo "usage: benches/soak.sh [MINUTES]" >&2; exit 2 ;; esac
rate=${SOAK_RATE:-300}
connections=${SOAK_CONNECTIONS:-4}

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
echo "== building (release binary, bench upstream, hostile module)"
cargo build --release --locked -p palisade --bin palisade --example bench_upstream
cargo build --locked --profile wasm --target wasm32-wasip2 -p hostile --target-dir target/guest
wasm=target/guest/wasm32-wasip2/wasm

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
uport=$(free_port)
aport=$(free_port)

# --- the drop-in folder: the bundled modules and the hostile one -----------
dropin="$work/policies.d"
mkdir -p "$dropin" "$work/cache"
chmod 700 "$work/cache"
for m in mention_limit first_contact duplicate_burst domain_list; do
  cp "$wasm/$m.wasm" "$dropin/"
done
cp "$wasm/hostile.wasm" "$dropin/"
printf 'grants = ["log", "state"]\n' > "$dropin/duplicate_burst.toml"
cat > "$dropin/domain_list.toml" <<TOML
grants = ["log", "lists"]
[config]
lists = ["blocklist", "invite-hosts"]
TOML
hostile_settings() { # weight
  printf '# rewritten by the soak to trigger reloads\non_error = "skip"\nweight = %s\n' "$1" > "$dropin/hostile.toml"
}
hostile_settings 1.0
# The module the soak replaces in turn (link-spam reads lists).
printf 'grants = ["log", "lists"]\n' > "$dropin/extra.toml"

cat > "$work/palisade.toml" <<TOML
# No [[policy]] entries: every module comes from the drop-in folder.
policy = []
local_hosts = ["mastodon.example"]
[server]
listen = "127.0.0.1:$port"
upstream = "http://127.0.0.1:$uport"
[admin]
listen = "127.0.0.1:$aport"
[quarantine]
path = "$work/palisade.db"
[state]
url = "sqlite:$work/palisade-state.db"
[decision_log]
output = "off"
[cache]
dir = "$work/cache"
[policies]
dir = "$dropin"
watch = true
[lists.blocklist]
path = "$root/examples/lists/blocklist.csv"
[lists.invite-hosts]
path = "$root/examples/lists/invite-hosts.txt"
format = "text"
severity = "silence"
TOML

# --- the bodies, rotated by the client -------------------------------------
bodies="$work/bodies"
mkdir -p "$bodies"
for f in tests/corpus/public/*.json; do cp "$f" "$bodies/corpus-$(basename "$f")"; done
cp examples/activities/wave.json "$bodies/wave-single.json"
cp examples/activities/reply.json "$bodies/reply-example.json"
n=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  n=$((n + 1))
  printf '%s' "$line" > "$bodies/wave-$n.json"
done < examples/activities/wave.jsonl
note() { # text
  printf '{"type":"Create","id":"https://h.example/a/%s","actor":"https://h.example/users/mallory","to":["https://www.w3.org/ns/activitystreams#Public"],"object":{"type":"Note","content":"<p>%s</p>"}}' "$1" "$1"
}
for trigger in spin grow panic; do note "$trigger" > "$bodies/hostile-$trigger.json"; done
printf 'hello, not json' > "$bodies/nonjson-text"
printf '[1,2,3]' > "$bodies/nonjson-array"
head -c 2048 /dev/urandom > "$bodies/nonjson-binary"
python3 -c 'import json; print(json.dumps({"type":"Create","actor":"https://big.example/u/1","object":{"type":"Note","content":"<p>" + "x" * (1200 * 1024) + "</p>"}}))' > "$bodies/oversized-1200k.json"
echo "bodies: $(ls "$bodies" | wc -l) ($(ls "$bodies" | sed 's/-.*//' | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}' | sed 's/, $//'))"

# --- start ---------------------------------------------------------------------
target/release/examples/bench_upstream "127.0.0.1:$uport" > "$work/upstream.log" 2>&1 &
pids+=($!)
PALISADE_LOG=warn target/release/palisade serve --config "$work/palisade.toml" > "$work/palisade.log" 2>&1 &
pid=$!
pids+=("$pid")
ready=0
for _ in $(seq 300); do
  if curl -sf "http://127.0.0.1:$port/readyz" > /dev/null 2>&1 && curl -s -o /dev/null -X POST "http://127.0.0.1:$uport/"; then
    ready=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if [ "$ready" != 1 ]; then
  echo "palisade did not become ready:" >&2
  tail -n 30 "$work/palisade.log" >&2
  exit 1
fi

metrics() { curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" || true; }
judged() { metrics | awk '/^palisade_activities_total\{/ {s += $2} END {print s + 0}'; }
samples=()
sample() { # label
  local rss fds
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || echo gone)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  samples+=("$(printf '| %-8s | %8s | %5s | %9s |' "$1" "$rss" "$fds" "$(judged)")")
}
sample start

echo "== soaking for $minutes min: $rate req/s over $connections connections, a reload every 20 s"
python3 benches/soak/client.py "http://127.0.0.1:$port/users/alice/inbox" "$bodies" $((minutes * 60)) \
  --rate "$rate" --connections "$connections" > "$work/client.json" &
client=$!
pids+=("$client")

# Every 20 s one reload, in turn: settings rewritten (the watcher reloads),
# a module file replaced (the watcher reloads and compiles), SIGHUP.
reloads=0
tick=0
extra=(link_spam keyword)
while kill -0 "$client" 2>/dev/null; do
  for _ in $(seq 20); do
    kill -0 "$client" 2>/dev/null || break 2
    sleep 1
  done
  kill -0 "$pid" 2>/dev/null || { echo "palisade exited during the soak" >&2; break; }
  case $((tick % 3)) in
    0) hostile_settings "$([ $((tick % 2)) = 0 ] && echo 0.5 || echo 1.0)" ;;
    1) cp "$wasm/${extra[$(((tick / 3) % 2))]}.wasm" "$dropin/.extra.wasm.tmp" && mv "$dropin/.extra.wasm.tmp" "$dropin/extra.wasm" ;;
    2) kill -HUP "$pid" ;;
  esac
  reloads=$((reloads + 1))
  tick=$((tick + 1))
  [ $((tick % 3)) = 0 ] && sample "$((tick / 3)) min"
done
wait "$client" || true
sleep 2 # let the last reload settle
alive=no
kill -0 "$pid" 2>/dev/null && alive=yes
sample end
final=$(metrics)

echo
echo "benches/soak.sh $minutes (rate $rate req/s, $connections connections); palisade still running at the end: $alive"
echo
echo "| when     | RSS MiB  | fds   | judged    |"
echo "|----------|----------|-------|-----------|"
printf '%s\n' "${samples[@]}"
echo
python3 - "$work/client.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"requests: {r['requests']} in {r['seconds']} s")
print("statuses: " + ", ".join(f"{k}: {v}" for k, v in r["statuses"].items()))
print("bodies sent, by kind: " + ", ".join(f"{k}: {v}" for k, v in r["kinds"].items()))
PY
echo "reloads triggered: $reloads"
echo "metrics at the end:"
grep -E '^palisade_(activities_total|module_errors_total|reloads_total|unjudged_requests_total|upstream_responses_total|modules_loaded|module_load_failures)' <<< "$final" | sed 's/^/  /' || echo "  (no metrics: the sidecar did not answer)"
echo "palisade log: $(wc -l < "$work/palisade.log") lines, $(grep -c 'panicked' "$work/palisade.log" || true) panics, $(grep -c 'module not loaded' "$work/palisade.log" || true) modules not loaded"
[ "$alive" = yes ]
