#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/hotkey.sh: the hot-key target of issue 6, in one run.
#
#   redis-benchmark -t incr -c 50 on ONE key (counter:__rand_int__ without -r), against:
#     - the gateway (read-modify-writes of one key coalesced: one CAS per round),
#     - a second gateway with --rmw-coalescing no (one CAS per command: the uncoalesced figure),
#     - redis-server (reference);
#   and the gateway's uncontended SET -c 50 (random keys, -r 100000), the baseline of the target
#   "INCR on one key >= 0.3x uncontended SET".
#
# Everything runs on 127.0.0.1 with free ports and a temp dir (bench/e2e/common.sh), each case
# $ROUNDS times in alternating order; the table shows medians. Environment: ROUNDS [3],
# REQUESTS [50000] for SET, INCR_REQUESTS [20000], CLIENTS [50], GATEWAY_BIN, KEEP_TMP.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
REQUESTS="${REQUESTS:-50000}"
INCR_REQUESTS="${INCR_REQUESTS:-20000}"
CLIENTS="${CLIENTS:-50}"
HOST=127.0.0.1
PY=/usr/bin/python3  # common.sh checks its tools; this script itself needs no Python

E2E_NAME=hotkey
E2E_BUCKET=hotkey
source "$ROOT/bench/e2e/common.sh"

# The uncoalesced gateway, on its own bucket of the same nats-server.
GW2_PORT_FILE="$TMP/gateway2.port"
"$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$GW2_PORT_FILE" --nats "$NATS_URL" \
  --bucket hotkey-nc --rmw-coalescing no >"$TMP/gateway2.log" 2>&1 &
PIDS+=($!)
wait_until 20 gateway2 "${PIDS[-1]}" test -s "$GW2_PORT_FILE"
GW2_PORT="$(head -n 1 "$GW2_PORT_FILE" | tr -d '[:space:]')"
wait_until 10 gateway2 "${PIDS[-1]}" pings "$GW2_PORT"

# rps <port> <redis-benchmark args...>: the throughput summary's requests per second.
rps() {
  local port="$1"
  shift
  redis-benchmark -h "$HOST" -p "$port" -c "$CLIENTS" "$@" 2>/dev/null |
    sed -nE 's/.*throughput summary: ([0-9.]+) requests per second.*/\1/p' | tail -n 1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -a SET_GW INCR_GW INCR_NC INCR_REDIS
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r/$ROUNDS"
  if ((r % 2)); then order=(set incr nc redis); else order=(redis nc incr set); fi
  for c in "${order[@]}"; do
    case "$c" in
      set) SET_GW+=("$(rps "$GW_PORT" -n "$REQUESTS" -r 100000 -t set)") ;;
      incr) INCR_GW+=("$(rps "$GW_PORT" -n "$INCR_REQUESTS" -t incr)") ;;
      nc) INCR_NC+=("$(rps "$GW2_PORT" -n "$INCR_REQUESTS" -t incr)") ;;
      redis) INCR_REDIS+=("$(rps "$REDIS_PORT" -n "$INCR_REQUESTS" -t incr)") ;;
    esac
  done
done

set_m="$(printf '%s\n' "${SET_GW[@]}" | median)"
incr_m="$(printf '%s\n' "${INCR_GW[@]}" | median)"
nc_m="$(printf '%s\n' "${INCR_NC[@]}" | median)"
redis_m="$(printf '%s\n' "${INCR_REDIS[@]}" | median)"
# The exact count proves nothing was lost: every INCR of every round landed.
want=$((INCR_REQUESTS * ROUNDS))
got_gw="$(redis-cli -h "$HOST" -p "$GW_PORT" GET counter:__rand_int__)"
got_nc="$(redis-cli -h "$HOST" -p "$GW2_PORT" GET counter:__rand_int__)"

echo "## Machine"
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $("$NATS_SERVER_BIN" --version 2>&1 | head -n 1); $("$REDIS_SERVER_BIN" --version | cut -d' ' -f1-3)"
echo "- gateway: $GATEWAY_BIN; clients $CLIENTS; rounds $ROUNDS"
echo
echo "| case | requests/s (median) | per round |"
echo "|---|---:|---|"
echo "| gateway SET -c $CLIENTS, random keys (uncontended) | $set_m | ${SET_GW[*]} |"
echo "| gateway INCR -c $CLIENTS, one key, coalesced | $incr_m | ${INCR_GW[*]} |"
echo "| gateway INCR -c $CLIENTS, one key, --rmw-coalescing no | $nc_m | ${INCR_NC[*]} |"
echo "| redis-server INCR -c $CLIENTS, one key | $redis_m | ${INCR_REDIS[*]} |"
echo
awk -v i="$incr_m" -v s="$set_m" -v n="$nc_m" 'BEGIN {
  r = i / s
  printf "- target: coalesced INCR / uncontended SET = %.2fx (>= 0.3x: %s)\n", r, (r >= 0.3 ? "met" : "MISSED")
  printf "- uncoalesced INCR / uncontended SET = %.2fx; coalescing gains %.1fx\n", n / s, i / n
}'
echo "- exactness: counter = $got_gw on the coalesced gateway, $got_nc on the other (expected $want each)"
