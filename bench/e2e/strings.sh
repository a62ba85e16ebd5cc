#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/strings.sh: the string-command targets of issue 3, measured on the gateway alone.
#   1. INCR on distinct keys vs the gateway's own SET, at -c $CLIENTS (target: INCR >= 0.5x SET).
#   2. GET of keys that carry a TTL vs GET of keys that do not (target: the same cost).
# Starts the gateway in its default embedded mode (it runs its own nats-server) on loopback, with
# a temp data dir; runs $ROUNDS rounds, alternating the two sides of each comparison and flipping
# the order every round; prints medians and ratios. Everything started is stopped on exit.
#
# Environment: N [200000], CLIENTS [50], ROUNDS [3], KEYS [10000] (keys per GET population),
# GATEWAY_BIN [build/release/gateway/redis-nats-gateway], DATA_SIZE [100].
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-200000}"
CLIENTS="${CLIENTS:-50}"
ROUNDS="${ROUNDS:-3}"
KEYS="${KEYS:-10000}"
DATA_SIZE="${DATA_SIZE:-100}"
GATEWAY_BIN="${GATEWAY_BIN:-$ROOT/build/release/gateway/redis-nats-gateway}"
NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
HOST=127.0.0.1
[[ -x "$GATEWAY_BIN" ]] || { echo "gateway binary not found: $GATEWAY_BIN (./run.sh builds it)" >&2; exit 1; }

TMP="$(mktemp -d -t rng-strings.XXXXXX)"
GW_PID=
cleanup() {
  [[ -n "$GW_PID" ]] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

"$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$TMP/port" --data-dir "$TMP/data" \
  --nats-server-bin "$NATS_SERVER_BIN" >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 200); do [[ -s "$TMP/port" ]] && break; sleep 0.05; done
PORT="$(tr -d '[:space:]' <"$TMP/port")"
[[ -n "$PORT" ]] || { cat "$TMP/gateway.log" >&2; exit 1; }
rb() { redis-benchmark -h "$HOST" -p "$PORT" -c "$CLIENTS" -d "$DATA_SIZE" --csv "$@" 2>/dev/null; }
# ops/s of the first data row of redis-benchmark's CSV
ops() { awk -F'","' 'NR == 2 { print int($2) }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

value="$(head -c "$DATA_SIZE" /dev/zero | tr '\0' x)"
echo "populating $KEYS keys with a TTL and $KEYS without" >&2
redis-benchmark -h "$HOST" -p "$PORT" -c "$CLIENTS" -n "$KEYS" -r "$KEYS" -q \
  SET "ttl:__rand_int__" "$value" EX 100000 >/dev/null
redis-benchmark -h "$HOST" -p "$PORT" -c "$CLIENTS" -n "$KEYS" -r "$KEYS" -q \
  SET "plain:__rand_int__" "$value" >/dev/null

declare -a SETS INCRS GETP GETT
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r/$ROUNDS" >&2
  if ((r % 2)); then
    SETS+=("$(rb -n "$N" -r 100000 -t set | ops)")
    INCRS+=("$(rb -n "$N" -r 100000 -t incr | ops)")
    GETP+=("$(rb -n "$N" -r "$KEYS" GET "plain:__rand_int__" | ops)")
    GETT+=("$(rb -n "$N" -r "$KEYS" GET "ttl:__rand_int__" | ops)")
  else
    INCRS+=("$(rb -n "$N" -r 100000 -t incr | ops)")
    SETS+=("$(rb -n "$N" -r 100000 -t set | ops)")
    GETT+=("$(rb -n "$N" -r "$KEYS" GET "ttl:__rand_int__" | ops)")
    GETP+=("$(rb -n "$N" -r "$KEYS" GET "plain:__rand_int__" | ops)")
  fi
done
set_m="$(printf '%s\n' "${SETS[@]}" | median)"
incr_m="$(printf '%s\n' "${INCRS[@]}" | median)"
getp_m="$(printf '%s\n' "${GETP[@]}" | median)"
gett_m="$(printf '%s\n' "${GETT[@]}" | median)"
echo "## Machine"
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); nproc: $(nproc); $("$NATS_SERVER_BIN" --version)"
echo "- gateway: $GATEWAY_BIN (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "- parameters: N=$N CLIENTS=$CLIENTS ROUNDS=$ROUNDS KEYS=$KEYS DATA_SIZE=$DATA_SIZE"
echo
echo "## Results (median of $ROUNDS rounds, ops/s, gateway only)"
echo "| comparison | a | b | b / a |"
echo "|---|---:|---:|---:|"
awk -v a="$set_m" -v b="$incr_m" 'BEGIN { printf "| SET (a) vs INCR (b), distinct keys | %d | %d | %.2f |\n", a, b, b / a }'
awk -v a="$getp_m" -v b="$gett_m" 'BEGIN { printf "| GET without TTL (a) vs with TTL (b) | %d | %d | %.2f |\n", a, b, b / a }'
echo "raw rounds: SET ${SETS[*]}; INCR ${INCRS[*]}; GET plain ${GETP[*]}; GET ttl ${GETT[*]}" >&2
