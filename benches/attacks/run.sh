#!/usr/bin/env bash
# Attacks on the default defences, on the seed-1 evaluation scenario: each
# script adds one adapted wave, replays it and prints what got through and
# what it cost legitimate traffic. Not part of the test suite (about a
# minute per attack on 2 cores). Usage: benches/attacks/run.sh [SCRIPT MODE]...
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --locked -q -p palisade -p palisade-e2e --bin palisade --bin palisade-scenario
cd benches/attacks
if [ $# -gt 0 ]; then exec python3 "$@"; fi
for attack in "a1_forged_accept.py" "a1_control_no_accept.py" "a2_replies.py a2a" "a2_replies.py a2b" \
    "a2_replies.py a2c" "a3_slow.py a3a" "a3_slow.py a3b" "a4_fresh.py a4a" "a4_fresh.py a4b" \
    "a5_aged.py a5a" "a5_aged.py a5b" "a6_shapes.py a6a" "a6_shapes.py a6b" "a6_shapes.py a6c" \
    "a6_shapes.py a6d" "a6_shapes.py a6e" "a7_poison.py a7a" "a7_poison.py a7b" "a7_poison.py a7c"; do
    # shellcheck disable=SC2086
    python3 $attack
done
