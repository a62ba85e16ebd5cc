#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/mirror.sh: how fast --mirror-writes replays a write burst onto the old Redis
# (issue 10; the issue sets no target for it), in one run.
#
#   bench/e2e/mirror.sh [GATEWAY_BIN]
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (bench/e2e/common.sh): the old
# redis-server, nats-server -js, a gateway common.sh starts (unused) and a second one with
# --mirror-writes pointing at the old Redis (bucket mir). Then redis-benchmark sends N SETs of
# SIZE bytes over random keys to the mirroring gateway (-c 50 -P 16), and the script polls INFO
# until mirror_acked_seq has passed the burst's last message. It prints the burst's rate, how long after the burst the old Redis was
# caught up, and the mirror's rate over the whole time (changes / time from the burst's start
# to caught up); then it checks that the old Redis has as many keys as the gateway.
#
# Environment: N [200000], SIZE [10], KEEP_TMP=1 keeps the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-200000}"
SIZE="${SIZE:-10}"
PY=/usr/bin/python3
HOST=127.0.0.1
if (($# == 1)); then GATEWAY_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; fi

E2E_NAME=mirror
E2E_BUCKET=mirunused
E2E_TOOLS=redis-benchmark
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

MIR_PORT_FILE="$TMP/gateway-mir.port"
"$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$MIR_PORT_FILE" --nats "$NATS_URL" \
  --bucket mir --mirror-writes "redis://$HOST:$REDIS_PORT" >"$TMP/gateway-mir.log" 2>&1 &
PIDS+=($!)
wait_until 20 "mirroring gateway" "${PIDS[-1]}" test -s "$MIR_PORT_FILE"
MIR_PORT="$(head -n 1 "$MIR_PORT_FILE" | tr -d '[:space:]')"
wait_until 10 "mirroring gateway" "${PIDS[-1]}" pings "$MIR_PORT"
info_field() { redis-cli -h "$HOST" -p "$MIR_PORT" INFO | tr -d '\r' | sed -n "s/^$1://p"; }
wait_until 15 "the mirror lease" "${PIDS[-1]}" test "$(info_field mirror_role)" = forwarding

machine_block
echo "- parameters: N=$N SIZE=$SIZE; redis-benchmark -t set -c 50 -P 16 -r 1000000 -d $SIZE"
echo

# Every SET appends one message, so the old Redis has them all once the mirror's acknowledged
# sequence reaches the stream's sequence before the burst plus N. (mirror_lag alone can read 0
# for up to one poll interval while the holder has not yet seen the newest messages.)
s0="$(info_field mirror_stream_seq)"
t0=$("$PY" -c 'import time; print(time.monotonic())')
redis-benchmark -h "$HOST" -p "$MIR_PORT" -t set -n "$N" -c 50 -P 16 -r 1000000 -d "$SIZE" -q \
  >"$TMP/benchmark.txt" 2>&1
t1=$("$PY" -c 'import time; print(time.monotonic())')
until (($(info_field mirror_acked_seq) >= s0 + N)); do sleep 0.02; done
t2=$("$PY" -c 'import time; print(time.monotonic())')
forwarded="$(info_field mirror_forwarded)"
errors="$(info_field mirror_errors)"
gw_keys="$(redis-cli -h "$HOST" -p "$MIR_PORT" DBSIZE)"
old_keys="$(redis-cli -h "$HOST" -p "$REDIS_PORT" DBSIZE)"
"$PY" - "$N" "$t0" "$t1" "$t2" "$forwarded" "$errors" "$gw_keys" "$old_keys" <<'PYEOF'
import sys
n, t0, t1, t2 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
forwarded, errors, gw, old = sys.argv[5:9]
print("| burst SETs/s | old Redis caught up after the burst | mirror changes/s (burst start to caught up) | forwarded | errors | keys gateway / old |")
print("|---:|---:|---:|---:|---:|---|")
print("| %.0f | %.2f s | %.0f | %s | %s | %s / %s |" % (n / (t1 - t0), t2 - t1, n / (t2 - t0),
                                                     forwarded, errors, gw, old))
PYEOF
