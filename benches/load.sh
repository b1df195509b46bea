#!/usr/bin/env bash
# Load benchmark (not a test): Palisade judging every inbox POST, side by
# side with nginx answering directly and nginx as a pooled reverse proxy
# in front of the same upstream, in one run on this machine. Prints each
# goal of docs/PERFORMANCE.md with the measured value, the baseline
# measured in the same run and the ratio.
#
#   bash benches/load.sh [SECONDS=10] [CONNECTIONS=32] [RATE=8000]
#
# Installs what it uses: Debian's nginx-light and wrk (apt), oha from
# crates.io (cargo install, into target/bench-tools) for the fixed-rate
# run, and builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
rate=${3:-8000}
repo=$(pwd)

sudo=$([ "$(id -u)" = 0 ] || echo sudo)
for tool in nginx:nginx-light wrk:wrk; do
  command -v "${tool%%:*}" >/dev/null || PATH=$PATH:/usr/sbin command -v "${tool%%:*}" >/dev/null || {
    $sudo apt-get install -y "${tool#*:}" >/dev/null 2>&1 ||
      { $sudo apt-get update >/dev/null && $sudo apt-get install -y "${tool#*:}" >/dev/null; }
  }
done
export PATH=$PATH:/usr/sbin
oha=$repo/target/bench-tools/bin/oha
[ -x "$oha" ] || cargo install --locked --quiet --root "$repo/target/bench-tools" oha@1.16.0
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --locked -p palisade --bin palisade

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  for pidfile in "$work"/*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

up=9791 proxy=9792 pal=9793
user=$([ "$(id -u)" = 0 ] && echo "user root;" || true)
nginx_conf() { # name server-block
  mkdir -p "$work/$1"
  cat > "$work/$1.conf" <<NGINX
$user
worker_processes auto;
pid $work/$1.pid;
error_log $work/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/$1;
  proxy_temp_path $work/$1;
  keepalive_requests 1000000;
  $2
}
NGINX
  nginx -c "$work/$1.conf"
}
# The upstream: 202 for every request, as an inbox answers a delivery.
nginx_conf upstream "server { listen 127.0.0.1:$up; location / { return 202; } }"
# The peer: a pooled reverse proxy in front of it that judges nothing.
nginx_conf proxy "upstream inbox { server 127.0.0.1:$up; keepalive 64; keepalive_requests 1000000; }
  server { listen 127.0.0.1:$proxy; location / {
    proxy_pass http://inbox; proxy_http_version 1.1;
    proxy_set_header Connection \"\"; proxy_set_header Host \$host; } }"

start_palisade() { # workers modules-toml
  cat > "$work/palisade.toml" <<TOML
[server]
listen = "127.0.0.1:$pal"
upstream = "http://127.0.0.1:$up"
workers = $1
[quarantine]
path = "$work/palisade.db"
[state]
url = "memory"
[decision_log]
output = "off"
$2
TOML
  PALISADE_LOG=warn target/release/palisade serve --config "$work/palisade.toml" &
  echo $! > "$work/palisade.pid"
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$pal/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "palisade did not become ready" >&2
  exit 1
}
stop_palisade() {
  kill "$(cat "$work/palisade.pid")"
  wait "$(cat "$work/palisade.pid")" 2>/dev/null || true
  rm -f "$work/palisade.pid"
}

# CPU time (clock ticks) of a process and its children (nginx's workers).
ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

url() { echo "http://127.0.0.1:$1/users/alice/inbox"; }
body=examples/activities/reply.json

# wrk at full speed: NAME PORT PID-OR-EMPTY -> NAME.{rps,p50,p99,cpu}
saturate() {
  local before=0 after=0
  [ -n "$3" ] && before=$(ticks "$3")
  BODY=$body wrk -t2 -c"$conns" -d"${secs}s" --latency -s benches/post.lua "$(url "$2")" > "$work/$1.txt"
  [ -n "$3" ] && after=$(ticks "$3")
  local requests
  requests=$(awk '/requests in/ {print $1}' "$work/$1.txt")
  awk '/Requests\/sec/ {print $2}' "$work/$1.txt" > "$work/$1.rps"
  awk '$1=="50%" {print $2}' "$work/$1.txt" > "$work/$1.p50"
  awk '$1=="99%" {print $2}' "$work/$1.txt" > "$work/$1.p99"
  awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }' > "$work/$1.cpu"
}

# oha at a fixed rate: NAME PORT PID -> NAME.{p50,p99,cpu,rps}
fixed_rate() {
  local before after
  before=$(ticks "$3")
  "$oha" --no-tui --output-format json -q "$rate" -z "${secs}s" -c "$conns" --latency-correction \
    -m POST -H 'Content-Type: application/activity+json' -H 'Host: mastodon.example' \
    -D "$body" "$(url "$2")" > "$work/$1.json"
  after=$(ticks "$3")
  python3 - "$work/$1" $((after - before)) "$hz" <<'PY'
import json, sys
base, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open(base + ".json"))
ok = sum(n for code, n in r["statusCodeDistribution"].items() if code.startswith("2"))
p = r["latencyPercentiles"]
for name, value in [("rps", r["summary"]["requestsPerSec"]), ("p50", p["p50"] * 1e3),
                    ("p99", p["p99"] * 1e3), ("cpu", ticks / hz / max(ok, 1) * 1e6),
                    ("ok", ok), ("total", sum(r["statusCodeDistribution"].values()))]:
    open(f"{base}.{name}", "w").write(f"{value:.3f}\n" if isinstance(value, float) else f"{value}\n")
PY
}

row() { printf '%-36s %10s %10s %10s %12s\n' "$@"; }
val() { cat "$work/$1.$2"; }
goal() { # text measured baseline ratio verdict
  printf '  %-52s %14s %14s %8s  %s\n' "$@"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v v="$1" 'BEGIN { u = v; if (v ~ /ms$/) u = v * 1; else if (v ~ /us$/) u = v / 1000; else if (v ~ /s$/) u = v * 1000; printf "%.2f", u }'; }

proxy_pid=$(cat "$work/proxy.pid")
start_palisade 0 ""
pal_pid=$(cat "$work/palisade.pid")

echo "one run: wrk -t2 -c$conns -d${secs}s (full speed), oha -q $rate -c$conns -z ${secs}s (fixed rate),"
echo "POST $body (2 KiB Create{Note}) to /users/alice/inbox; Palisade: the default modules, memory state,"
echo "decision log off, unsigned requests; all on the same $(nproc) cores"
echo
saturate nginx_direct $up ""
saturate nginx_proxy $proxy "$proxy_pid"
saturate palisade $pal "$pal_pid"
fixed_rate nginx_proxy_rate $proxy "$proxy_pid"
fixed_rate palisade_rate $pal "$pal_pid"
rss_default=$(awk '/VmRSS/ {print $2}' "/proc/$pal_pid/status")
stop_palisade

start_palisade 1 ""
saturate palisade_1_worker $pal "$(cat "$work/palisade.pid")"
stop_palisade

# Ten modules: the nine bundled ones and a second mention-limit.
ten='[[policy]]
source = "builtin:mention-limit"
[[policy]]
source = "builtin:first-contact"
[[policy]]
source = "builtin:account-facts"
[[policy]]
source = "builtin:duplicate-burst"
grants = ["log", "state"]
[[policy]]
source = "builtin:newcomer-burst"
grants = ["state"]
[[policy]]
source = "builtin:domain-list"
grants = ["log", "lists"]
[[policy]]
source = "builtin:rate-limit"
grants = ["state"]
[[policy]]
source = "builtin:link-spam"
grants = ["log", "lists"]
[[policy]]
source = "builtin:keyword"
[[policy]]
source = "builtin:mention-limit"
name = "mention-limit-strict"'
start_palisade 0 "$ten"
ten_pid=$(cat "$work/palisade.pid")
saturate palisade_ten $pal "$ten_pid"
rss_ten=$(awk '/VmRSS/ {print $2}' "/proc/$ten_pid/status")
vsz_ten=$(awk '/VmSize/ {print $2}' "/proc/$ten_pid/status")
stop_palisade

row path "req/s" "p50" "p99" "CPU/request"
row "nginx answering directly" "$(val nginx_direct rps)" "$(val nginx_direct p50)" "$(val nginx_direct p99)" "-"
row "nginx pooled proxy (judges nothing)" "$(val nginx_proxy rps)" "$(val nginx_proxy p50)" "$(val nginx_proxy p99)" "$(val nginx_proxy cpu) µs"
row "palisade (default modules)" "$(val palisade rps)" "$(val palisade p50)" "$(val palisade p99)" "$(val palisade cpu) µs"
row "palisade, 1 worker thread" "$(val palisade_1_worker rps)" "$(val palisade_1_worker p50)" "$(val palisade_1_worker p99)" "$(val palisade_1_worker cpu) µs"
row "palisade, ten modules" "$(val palisade_ten rps)" "$(val palisade_ten p50)" "$(val palisade_ten p99)" "$(val palisade_ten cpu) µs"
row "nginx pooled proxy at $rate req/s" "$(val nginx_proxy_rate rps)" "$(val nginx_proxy_rate p50)ms" "$(val nginx_proxy_rate p99)ms" "$(val nginx_proxy_rate cpu) µs"
row "palisade at $rate req/s" "$(val palisade_rate rps)" "$(val palisade_rate p50)ms" "$(val palisade_rate p99)ms" "$(val palisade_rate cpu) µs"
echo
echo "palisade at $rate req/s: $(val palisade_rate ok) of $(val palisade_rate total) answered 2xx"
echo
printf '  %-52s %14s %14s %8s  %s\n' goal measured baseline ratio ""
r=$(ratio "$(val palisade rps)" "$(val nginx_proxy rps)")
goal "throughput >= 0.8 x nginx pooled proxy" "$(val palisade rps)/s" "$(val nginx_proxy rps)/s" "$r" \
  "$(awk -v r="$r" 'BEGIN { print (r >= 0.8) ? "met" : "missed" }')"
p99=$(val palisade_rate p99)
goal "p99 at $rate req/s <= 1.5 ms" "${p99} ms" "$(val nginx_proxy_rate p99) ms" \
  "$(ratio "$p99" "$(val nginx_proxy_rate p99)")" "$(awk -v v="$p99" 'BEGIN { print (v <= 1.5) ? "met" : "missed" }')"
cpu=$(val palisade_rate cpu)
goal "Palisade CPU per request at $rate req/s <= 40 µs" "${cpu} µs" "$(val nginx_proxy_rate cpu) µs" \
  "$(ratio "$cpu" "$(val nginx_proxy_rate cpu)")" "$(awk -v v="$cpu" 'BEGIN { print (v <= 40) ? "met" : "missed" }')"
goal "RSS with ten modules under load <= 100 MB" "$((rss_ten / 1024)) MB" "$((rss_default / 1024)) MB" \
  "$(ratio "$rss_ten" "$rss_default")" "$([ $((rss_ten / 1024)) -le 100 ] && echo met || echo missed)"
goal "scaling: 2 worker threads / 1" "$(val palisade rps)/s" "$(val palisade_1_worker rps)/s" \
  "$(ratio "$(val palisade rps)" "$(val palisade_1_worker rps)")" ""
echo
echo "baselines: nginx's pooled proxy (throughput, p99, CPU), six default modules (RSS), 1 worker (scaling);"
echo "virtual size with ten modules: $((vsz_ten / 1024)) MB (the pooling allocator's reservation)"
