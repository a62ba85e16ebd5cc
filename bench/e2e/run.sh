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

log() { printf 'e2e: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- binaries ------------------------------------------------------------------------------------
if [[ -z "${GATEWAY_BIN:-}" ]]; then
  "$ROOT/scripts/deps.sh"
  BUILD="$ROOT/build/release"
  mkdir -p "$BUILD"
  log "building the gateway (Release, build/release)"
  # Same cache options as run.sh, so the two never force each other to reconfigure.
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRNG_BUILD_TESTS=OFF \
    -DRNG_BUILD_BENCH=OFF >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log" >&2; die "cmake configure failed"; }
  cmake --build "$BUILD" --target redis-nats-gateway -j "$(nproc)" >"$BUILD/build.log" 2>&1 ||
    { tail -n 100 "$BUILD/build.log" >&2; die "build failed (build/release/build.log)"; }
  GATEWAY_BIN="$BUILD/gateway/redis-nats-gateway"
fi
[[ -x "$GATEWAY_BIN" ]] || die "gateway binary not found: $GATEWAY_BIN"
NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server || true)}"
for b in "$NATS_SERVER_BIN" "$REDIS_SERVER_BIN" redis-benchmark redis-cli "$PY"; do
  command -v "$b" >/dev/null 2>&1 || die "missing $b (run scripts/deps.sh)"
done

# --- processes and cleanup -----------------------------------------------------------------------
TMP="$(mktemp -d -t rng-e2e.XXXXXX)"
PIDS=() # started by us, stopped in reverse order
BENCH_PID=

cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM
  [[ -n "$BENCH_PID" ]] && kill -TERM "$BENCH_PID" 2>/dev/null
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid="${PIDS[i]}"
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until <seconds> <what> <pid> <command...>: polls the command until it succeeds; fails if
# the deadline passes or the process dies first.
wait_until() {
  local deadline=$((SECONDS + $1)) what="$2" pid="$3"
  shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what exited during start-up (logs in $TMP)"
    ((SECONDS < deadline)) || die "$what not ready within the deadline (logs in $TMP)"
    sleep 0.05
  done
}

pings() { [[ "$(redis-cli -h "$HOST" -p "$1" PING 2>/dev/null)" == PONG ]]; }

# redis-server: no persistence, loopback only.
REDIS_PORT="$(free_port)"
mkdir -p "$TMP/redis"
"$REDIS_SERVER_BIN" --bind "$HOST" --port "$REDIS_PORT" --save '' --appendonly no \
  --dir "$TMP/redis" --daemonize no --protected-mode yes --logfile "$TMP/redis.log" &
PIDS+=($!)
wait_until 10 redis-server "${PIDS[-1]}" pings "$REDIS_PORT"

# nats-server with JetStream on a port it picks; the ports file says which.
mkdir -p "$TMP/nats"
"$NATS_SERVER_BIN" -a "$HOST" -p -1 -js -sd "$TMP/nats/js" --ports_file_dir "$TMP/nats" \
  >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
NATS_PORTS="$TMP/nats/nats-server_$NATS_PID.ports"
wait_until 10 nats-server "$NATS_PID" test -s "$NATS_PORTS"
NATS_URL="$(sed -E 's/.*"nats":\["([^"]+)".*/\1/' "$NATS_PORTS")"
[[ "$NATS_URL" == nats://127.0.0.1:* ]] ||
  die "unexpected nats-server ports file: $(cat "$NATS_PORTS")"

# the gateway, against that nats-server.
GW_PORT_FILE="$TMP/gateway.port"
"$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$GW_PORT_FILE" --nats "$NATS_URL" \
  --data-dir "$TMP/gateway" --bucket e2e ${GATEWAY_ARGS:-} >"$TMP/gateway.log" 2>&1 &
PIDS+=($!)
wait_until 20 gateway "${PIDS[-1]}" test -s "$GW_PORT_FILE"
GW_PORT="$(head -n 1 "$GW_PORT_FILE" | tr -d '[:space:]')"
wait_until 10 gateway "${PIDS[-1]}" pings "$GW_PORT"

# Sanity: a benchmark against a target that answers errors would report nonsense speeds.
for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" SET e2e:probe hello >/dev/null
  [[ "$(redis-cli -h "$HOST" -p "$port" GET e2e:probe)" == hello ]] ||
    die "SET/GET round trip failed on port $port"
done

# --- machine info ---------------------------------------------------------------------------------
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
cat <<EOF
## Machine
- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- kernel: $(uname -srm)
- nproc: $(nproc)
- cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
- memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
- nats-server: $("$NATS_SERVER_BIN" --version 2>&1 | head -n 1)
- redis-server: $("$REDIS_SERVER_BIN" --version 2>&1 | head -n 1)
- redis-benchmark: $(redis-benchmark --version 2>&1 | head -n 1)
- gateway: $GATEWAY_BIN (commit $commit)
- gateway args: ${GATEWAY_ARGS:-<none>}
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
  BENCH_PID=$!
  wait "$BENCH_PID" || die "redis-benchmark failed against $name (see $TMP/redis-benchmark.err)"
  BENCH_PID=
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
