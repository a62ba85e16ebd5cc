#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/run.sh: end-to-end throughput and latency, redis-server vs the gateway, in one run.
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir:
#   - redis-server (no RDB, no AOF),
#   - nats-server -js,
#   - the gateway (Release build) with --nats pointing at that nats-server, --port 0 --port-file.
# Then drives both with redis-benchmark: SET and GET at -c $CLIENTS and at -c 1, 100-byte values,
# no pipelining. Targets alternate within each round and the order flips every round, so a noisy
# machine penalises both alike. Each cell of the table is the median over the rounds; only the
# ratios mean anything. Everything started here is stopped on exit, Ctrl-C included.
#
# Environment (defaults in brackets):
#   N [200000]         requests per run at -c $CLIENTS
#   CLIENTS [50]       parallel clients for the throughput runs
#   N_SINGLE [N/4]     requests per run at -c 1 (latency runs are slow on the gateway)
#   ROUNDS [3]         rounds; the table shows medians
#   DATA_SIZE [100]    value size in bytes (-d)
#   KEYSPACE [100000]  random keys (-r); 0 uses redis-benchmark's single fixed key
#   TESTS [set,get]    redis-benchmark -t list
#   GATEWAY_BIN        use this gateway binary instead of building build/release
#   GATEWAY_ARGS       extra gateway flags (e.g. "--nats-client natsc")
#   KEEP_TMP=1         keep the temp dir (logs, raw CSV) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-200000}"
CLIENTS="${CLIENTS:-50}"
N_SINGLE="${N_SINGLE:-$((N / 4))}"
ROUNDS="${ROUNDS:-3}"
DATA_SIZE="${DATA_SIZE:-100}"
KEYSPACE="${KEYSPACE:-100000}"
TESTS="${TESTS:-set,get}"
PY=/usr/bin/python3
HOST=127.0.0.1

E2E_NAME=e2e
E2E_BUCKET=e2e
E2E_TOOLS=redis-benchmark
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

# Sanity: a benchmark against a target that answers errors would report nonsense speeds.
for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" SET e2e:probe hello >/dev/null
  [[ "$(redis-cli -h "$HOST" -p "$port" GET e2e:probe)" == hello ]] ||
    die "SET/GET round trip failed on port $port"
done

# --- machine info ---------------------------------------------------------------------------------
machine_block
cat <<EOF
- parameters: N=$N CLIENTS=$CLIENTS N_SINGLE=$N_SINGLE ROUNDS=$ROUNDS
- values: DATA_SIZE=$DATA_SIZE KEYSPACE=$KEYSPACE TESTS=$TESTS

EOF

# --- runs -----------------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv" # target clients test rps p50_ms
: >"$RESULTS"
random_keys=()
((KEYSPACE > 0)) && random_keys=(-r "$KEYSPACE")

# bench <target name> <port> <clients> <requests> [record=1]
bench() {
  local name="$1" port="$2" clients="$3" n="$4" record="${5:-1}" out="$TMP/last.csv"
  # In the background so that a signal to this script runs the cleanup trap at once instead of
  # after redis-benchmark finishes.
  redis-benchmark -h "$HOST" -p "$port" -t "$TESTS" -c "$clients" -P 1 -n "$n" \
    -d "$DATA_SIZE" "${random_keys[@]}" -e --csv >"$out" 2>>"$TMP/redis-benchmark.err" &
  CHILD_PID=$!
  wait "$CHILD_PID" || die "redis-benchmark failed against $name (see $TMP/redis-benchmark.err)"
  CHILD_PID=
  if grep -q -v '^"' "$out"; then
    grep -v '^"' "$out" | head -n 3 >&2
    die "$name answered errors during the benchmark"
  fi
  ((record)) || return 0
  # CSV columns: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
  tail -n +2 "$out" | tr -d '"' |
    awk -F, -v t="$name" -v c="$clients" '{ print t "\t" c "\t" $1 "\t" $2 "\t" $5 }' >>"$RESULTS"
}

log "warm-up"
bench redis "$REDIS_PORT" "$CLIENTS" $((N < 20000 ? N : 20000)) 0
bench gateway "$GW_PORT" "$CLIENTS" $((N < 20000 ? N : 20000)) 0

for ((round = 1; round <= ROUNDS; round++)); do
  for spec in "$CLIENTS $N" "1 $N_SINGLE"; do
    read -r clients n <<<"$spec"
    if ((round % 2)); then order=(redis gateway); else order=(gateway redis); fi
    for target in "${order[@]}"; do
      log "round $round/$ROUNDS: $target -c $clients -n $n"
      if [[ "$target" == redis ]]; then
        bench redis "$REDIS_PORT" "$clients" "$n"
      else
        bench gateway "$GW_PORT" "$clients" "$n"
      fi
    done
  done
done

# --- table ----------------------------------------------------------------------------------------
"$PY" - "$RESULTS" "$ROUNDS" <<'EOF'
import statistics
import sys

rows = {}
order = []
with open(sys.argv[1]) as f:
    for line in f:
        target, clients, test, rps, p50 = line.rstrip("\n").split("\t")
        key = (test, int(clients))
        if key not in rows:
            rows[key] = {"redis": ([], []), "gateway": ([], [])}
            order.append(key)
        rows[key][target][0].append(float(rps))
        rows[key][target][1].append(float(p50))

def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"

print(f"## Results (median of {sys.argv[2]} rounds; ratio = gateway / redis)")
print("| test | redis ops/s | gateway ops/s | ratio | redis p50 ms | gateway p50 ms | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for test, clients in sorted(order, key=lambda k: (-k[1], order.index(k))):
    r, g = rows[(test, clients)]["redis"], rows[(test, clients)]["gateway"]
    r_rps, g_rps = statistics.median(r[0]), statistics.median(g[0])
    r_p50, g_p50 = statistics.median(r[1]), statistics.median(g[1])
    print(f"| {test} -c {clients} | {r_rps:,.0f} | {g_rps:,.0f} | {ratio(g_rps, r_rps)} "
          f"| {r_p50:.3f} | {g_p50:.3f} | {ratio(g_p50, r_p50)} |")
EOF
