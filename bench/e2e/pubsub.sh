#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/pubsub.sh: the pub/sub and keyspace-notification targets of issue 5, in one run.
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (bench/e2e/common.sh):
#   - redis-server (no RDB, no AOF),
#   - nats-server -js,
#   - the gateway (Release build) with --nats pointing at that nats-server, bucket "pubsub".
# Builds bench/pubsub_bench.cc (target pubsub_bench, in build/bench) unless PUBSUB_BENCH_BIN is
# set, then, for each of $ROUNDS rounds (targets alternate, the order flips every round):
#
#   (a) keyspace-event latency, one write at a time ($EVENTS events after $WARMUP warm-up ones):
#       `pubsub_bench keyspace-latency` against redis-server and against the gateway: CONFIG SET
#       notify-keyspace-events $NOTIFY, one connection SUBSCRIBEd to __keyevent@0__:set, another
#       doing SET psb:<i % 1000>; the time from sending the SET to the subscriber receiving the
#       key. And the raw NATS reference on the gateway's bucket, `pubsub_bench nats-latency`
#       (nats.c): a JetStream put to $KV.pubsub.natslat.<i % 1000> received by an ordered push
#       consumer (js_SubscribeSync, Ordered) and, separately, by kvStore_Watch.
#   (b) PUBLISH fan-out: `pubsub_bench publish`, one publisher pipelining $MESSAGES PUBLISH of
#       $SIZE bytes with at most $WINDOW outstanding, $SUBSCRIBERS subscriber connections, against
#       redis-server and the gateway: publishes/s and deliveries/s.
#
# Prints the machine block and Markdown tables of medians over the rounds, the ratios, and
# whether the targets are met:
#   (a) gateway p99 <= 2x the raw NATS ordered consumer's p99, and <= 2 ms;
#   (b) gateway publishes/s >= 0.5x redis-server's.
# Everything started is stopped on exit, Ctrl-C included.
#
# Environment (defaults in brackets):
#   EVENTS [10000]       measured events per latency run
#   WARMUP [500]         warm-up events per latency run (not measured)
#   VALUE_SIZE [16]      SET / put value size in bytes
#   NOTIFY [KEA]         notify-keyspace-events flags set on both targets
#   MESSAGES [200000]    PUBLISH per fan-out run
#   SUBSCRIBERS [10]     subscriber connections
#   SIZE [64]            PUBLISH payload size in bytes
#   WINDOW [100]         PUBLISH replies outstanding at most
#   ROUNDS [3]           rounds; the tables show medians
#   CASES [keyspace,nats,publish]  which of the three to run (targets need all of them)
#   PUBSUB_BENCH_BIN     the tool [build/bench/bench/pubsub_bench, built if unset]
#   GATEWAY_BIN          gateway binary [build/release/gateway/redis-nats-gateway, built if unset]
#   GATEWAY_ARGS         extra gateway flags
#   KEEP_TMP=1           keep the temp dir (logs, raw RESULT lines) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EVENTS="${EVENTS:-10000}"
WARMUP="${WARMUP:-500}"
VALUE_SIZE="${VALUE_SIZE:-16}"
NOTIFY="${NOTIFY:-KEA}"
MESSAGES="${MESSAGES:-200000}"
SUBSCRIBERS="${SUBSCRIBERS:-10}"
SIZE="${SIZE:-64}"
WINDOW="${WINDOW:-100}"
ROUNDS="${ROUNDS:-3}"
CASES=",${CASES:-keyspace,nats,publish},"
PY=/usr/bin/python3
HOST=127.0.0.1

# --- the tool (before any server starts) ----------------------------------------------------------
if [[ -z "${PUBSUB_BENCH_BIN:-}" ]]; then
  "$ROOT/scripts/deps.sh" # installs only what is missing (common.sh may run it again: a no-op)
  BENCH_BUILD="$ROOT/build/bench"
  mkdir -p "$BENCH_BUILD"
  echo "pubsub: building pubsub_bench (Release, build/bench)" >&2
  # Only the tool is built; the tests are not needed in this build directory.
  cmake -S "$ROOT" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release -DRNG_BUILD_TESTS=OFF \
    >"$BENCH_BUILD/configure.log" 2>&1 ||
    { cat "$BENCH_BUILD/configure.log" >&2; echo "pubsub: cmake configure failed" >&2; exit 1; }
  cmake --build "$BENCH_BUILD" --target pubsub_bench -j "$(nproc)" >"$BENCH_BUILD/build.log" 2>&1 ||
    { tail -n 100 "$BENCH_BUILD/build.log" >&2; echo "pubsub: build of pubsub_bench failed" >&2; exit 1; }
  PUBSUB_BENCH_BIN="$BENCH_BUILD/bench/pubsub_bench"
fi
[[ -x "$PUBSUB_BENCH_BIN" ]] || { echo "pubsub: not found: $PUBSUB_BENCH_BIN" >&2; exit 1; }

E2E_NAME=pubsub
E2E_BUCKET=pubsub
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

# Sanity: the gateway must answer PUBLISH with an integer and have created its bucket.
for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" SET psb:probe hello >/dev/null
  [[ "$(redis-cli -h "$HOST" -p "$port" GET psb:probe)" == hello ]] ||
    die "SET/GET round trip failed on port $port"
  out="$(redis-cli -h "$HOST" -p "$port" PUBLISH psb-probe x 2>&1)"
  [[ "$out" =~ ^[0-9]+$ ]] || die "PUBLISH on port $port answered: $out"
done

# --- machine info ---------------------------------------------------------------------------------
machine_block
cat <<EOF
- nats.c: $(pkg-config --modversion libnats 2>/dev/null || echo unknown), hiredis: $(pkg-config --modversion hiredis 2>/dev/null || echo unknown)
- parameters: EVENTS=$EVENTS WARMUP=$WARMUP VALUE_SIZE=$VALUE_SIZE NOTIFY=$NOTIFY ROUNDS=$ROUNDS
- fan-out: MESSAGES=$MESSAGES SUBSCRIBERS=$SUBSCRIBERS SIZE=$SIZE WINDOW=$WINDOW
- cases: $(echo "$CASES" | sed 's/^,//; s/,$//')

EOF

# --- runs -----------------------------------------------------------------------------------------
RESULTS="$TMP/results.txt" # "<round> RESULT test=... name=... ..."
: >"$RESULTS"

# tool <round> <subcommand> <args...>: one pubsub_bench run, its RESULT line appended.
tool() {
  local round="$1" out="$TMP/last.out"
  shift
  # In the background so that a signal runs the cleanup trap at once.
  "$PUBSUB_BENCH_BIN" "$@" >"$out" 2>>"$TMP/pubsub_bench.err" &
  CHILD_PID=$!
  wait "$CHILD_PID" || { tail -n 5 "$TMP/pubsub_bench.err" >&2; die "pubsub_bench $1 failed"; }
  CHILD_PID=
  grep '^RESULT ' "$out" | sed "s/^/$round /" >>"$RESULTS"
  grep '^RESULT ' "$out" >&2
}

keyspace() { # <round> <target>
  local port
  if [[ "$2" == redis ]]; then port="$REDIS_PORT"; else port="$GW_PORT"; fi
  tool "$1" keyspace-latency --redis-port "$port" --events "$EVENTS" --warmup "$WARMUP" \
    --size "$VALUE_SIZE" --notify "$NOTIFY" --name "$2"
}
nats() { # <round> <mode>
  tool "$1" nats-latency --nats-url "$NATS_URL" --bucket "$E2E_BUCKET" --mode "$2" \
    --events "$EVENTS" --warmup "$WARMUP" --size "$VALUE_SIZE" --create --name "nats-$2"
}
fanout() { # <round> <target>
  local port
  if [[ "$2" == redis ]]; then port="$REDIS_PORT"; else port="$GW_PORT"; fi
  tool "$1" publish --redis-port "$port" --subscribers "$SUBSCRIBERS" --messages "$MESSAGES" \
    --size "$SIZE" --window "$WINDOW" --name "$2"
}

for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2)); then
    targets=(redis gateway); modes=(ordered watch)
  else
    targets=(gateway redis); modes=(watch ordered)
  fi
  if [[ "$CASES" == *,keyspace,* ]]; then
    for t in "${targets[@]}"; do
      log "round $round/$ROUNDS: keyspace-event latency, $t"
      keyspace "$round" "$t"
    done
  fi
  if [[ "$CASES" == *,nats,* ]]; then
    for m in "${modes[@]}"; do
      log "round $round/$ROUNDS: raw NATS latency, $m"
      nats "$round" "$m"
    done
  fi
  if [[ "$CASES" == *,publish,* ]]; then
    for t in "${targets[@]}"; do
      log "round $round/$ROUNDS: PUBLISH fan-out, $t"
      fanout "$round" "$t"
    done
  fi
done

# --- tables ---------------------------------------------------------------------------------------
"$PY" - "$RESULTS" "$ROUNDS" "$EVENTS" "$MESSAGES" "$SUBSCRIBERS" "$SIZE" "$WINDOW" <<'EOF'
import statistics
import sys

path, rounds, events, messages, subscribers, size, window = sys.argv[1:8]
runs = {}  # (test, name) -> [dict per round]
with open(path) as f:
    for line in f:
        fields = line.split()
        kv = dict(x.split("=", 1) for x in fields[2:])
        runs.setdefault((kv["test"], kv["name"]), []).append(kv)


def med(test, name, field):
    return statistics.median(float(r[field]) for r in runs[(test, name)])


def raw(test, name, field, fmt):
    return " ".join(fmt % float(r[field]) for r in runs[(test, name)])


lat = [("keyspace-latency", "redis", "redis-server: SET, `__keyevent@0__:set` subscriber"),
       ("keyspace-latency", "gateway", "gateway: SET, `__keyevent@0__:set` subscriber"),
       ("nats-latency", "nats-ordered", "raw NATS: put, ordered push consumer (nats.c, sync)"),
       ("nats-latency", "nats-watch", "raw NATS: put, `kvStore_Watch` (nats.c)")]
lat = [x for x in lat if (x[0], x[1]) in runs]
if lat:
    print(f"## (a) Write to keyspace event, one at a time ({events} events, "
          f"median of {rounds} rounds)")
    print("| path | p50 µs | p90 µs | p99 µs | max µs |")
    print("|---|---:|---:|---:|---:|")
    for test, name, label in lat:
        print(f"| {label} | {med(test, name, 'p50_us'):.0f} | {med(test, name, 'p90_us'):.0f} "
              f"| {med(test, name, 'p99_us'):.0f} | {med(test, name, 'max_us'):.0f} |")
    print()
    for test, name, label in lat:
        print(f"- p50/p99 µs per round, {name}: " +
              ", ".join("%.0f/%.0f" % (float(r["p50_us"]), float(r["p99_us"]))
                        for r in runs[(test, name)]))
    print()

fan = [n for n in ("redis", "gateway") if ("publish", n) in runs]
if fan:
    print(f"## (b) PUBLISH fan-out: 1 publisher, {subscribers} subscribers, {messages} messages "
          f"of {size} bytes, window {window} (median of {rounds} rounds)")
    print("| target | publishes/s | deliveries/s | elapsed s | sum of PUBLISH replies |")
    print("|---|---:|---:|---:|---:|")
    for name in fan:
        print(f"| {name} | {med('publish', name, 'publishes_per_s'):,.0f} "
              f"| {med('publish', name, 'deliveries_per_s'):,.0f} "
              f"| {med('publish', name, 'elapsed_s'):.3f} "
              f"| {med('publish', name, 'publish_replies_sum'):,.0f} |")
    print()
    for name in fan:
        print(f"- publishes/s per round, {name}: " +
              raw("publish", name, "publishes_per_s", "%.0f"))
    print()

have = lambda *keys: all(k in runs for k in keys)
met = lambda ok: "met" if ok else "**missed**"
rows, other = [], []
if have(("keyspace-latency", "gateway")):
    g99 = med("keyspace-latency", "gateway", "p99_us")
    g50 = med("keyspace-latency", "gateway", "p50_us")
    if have(("nats-latency", "nats-ordered")):
        n99 = med("nats-latency", "nats-ordered", "p99_us")
        n50 = med("nats-latency", "nats-ordered", "p50_us")
        rows.append(f"| (a) gateway p99 <= 2x raw NATS ordered-consumer p99 | {g99:.0f} / "
                    f"{n99:.0f} µs = {g99 / n99:.2f}x | {met(g99 <= 2 * n99)} |")
        other.append(f"gateway p50 / NATS ordered p50 = {g50 / n50:.2f}x")
    rows.append(f"| (a) gateway p99 <= 2 ms | {g99 / 1000:.3f} ms | {met(g99 <= 2000)} |")
    if have(("nats-latency", "nats-watch")):
        w99 = med("nats-latency", "nats-watch", "p99_us")
        other.append(f"gateway p99 / kvStore_Watch p99 = {g99 / w99:.2f}x")
    if have(("keyspace-latency", "redis")):
        r99 = med("keyspace-latency", "redis", "p99_us")
        other.append(f"gateway p99 / redis-server p99 = {g99 / r99:.2f}x")
if have(("publish", "redis"), ("publish", "gateway")):
    rp = med("publish", "redis", "publishes_per_s")
    gp = med("publish", "gateway", "publishes_per_s")
    rows.append(f"| (b) gateway publishes/s >= 0.5x redis-server | {gp:,.0f} / {rp:,.0f} = "
                f"{gp / rp:.2f}x | {met(gp >= 0.5 * rp)} |")
if rows:
    print("## Targets (issue 5)")
    print("| target | measured | result |")
    print("|---|---:|---|")
    print("\n".join(rows))
    print()
if other:
    print("Other ratios: " + "; ".join(other) + ".")
EOF
echo
echo "Load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)."
