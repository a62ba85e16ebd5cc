#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/keyspace.sh: the keyspace-read targets of issue 4, redis-server vs the gateway.
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (as bench/e2e/run.sh does):
#   - redis-server (no RDB, no AOF),
#   - nats-server -js,
#   - the gateway (Release build) with --nats pointing at that nats-server.
# Loads the same $KEYS keys into both with `redis-cli --pipe` (deterministic, unlike
# redis-benchmark -r): "key:<n>" for n = 1..$KEYS, except every ($KEYS / $PICKS)-th n, which is
# "pick:<n>" instead, so that `KEYS pick:*` selects exactly $PICKS keys. Then, over $ROUNDS
# rounds, alternating targets and flipping the order every round, times:
#   scan: `redis-cli --scan` (SCAN with redis-cli's default COUNT 10, to the end), output kept
#         to count the lines: must be $KEYS on both (and $KEYS distinct on both);
#   keys: `redis-cli KEYS 'pick:*'`: must return $PICKS.
# Wall-clock times include redis-cli's own start-up (a few ms, the same for both targets).
# Prints the machine block and a table of medians: redis ms, gateway ms, gateway / redis. Then,
# since those times include redis-cli's start-up, the median of one `KEYS pick:*` call (21
# calls) and of one `SCAN 0 COUNT 10` call (2001 calls) on one open connection per target (the
# redis module of /usr/bin/python3).
# Targets (issue 4): scan <= 1.5x redis, keys <= 2x redis. Everything started is stopped on exit.
#
# Environment (defaults in brackets):
#   KEYS [100000]      keys loaded into each target
#   PICKS [100]        how many of them are pick:<n> (must divide KEYS)
#   ROUNDS [3]         rounds; the table shows medians
#   DATA_SIZE [16]     value size in bytes
#   GATEWAY_BIN        gateway binary [build/release/gateway/redis-nats-gateway, built if missing]
#   GATEWAY_ARGS       extra gateway flags
#   KEEP_TMP=1         keep the temp dir (logs) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NKEYS="${KEYS:-100000}"
PICKS="${PICKS:-100}"
ROUNDS="${ROUNDS:-3}"
DATA_SIZE="${DATA_SIZE:-16}"
PY=/usr/bin/python3
HOST=127.0.0.1

E2E_NAME=keyspace
E2E_BUCKET=keyspace
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

# --- load ----------------------------------------------------------------------------------------
# The same RESP stream for both targets.
"$PY" - "$NKEYS" "$PICKS" "$DATA_SIZE" >"$TMP/load.resp" <<'EOF'
import sys

n, picks, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
step = n // picks
out = sys.stdout.buffer
for i in range(1, n + 1):
    key = ("pick:%d" if i % step == 0 else "key:%d") % i
    value = ("v%d" % i).ljust(size, "x")[:size] if size else ""
    k, v = key.encode(), value.encode()
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
EOF

# Nanoseconds, wall clock: fine for intervals of milliseconds.
stamp() { date +%s%N; }

for target in redis gateway; do
  if [[ "$target" == redis ]]; then port="$REDIS_PORT"; else port="$GW_PORT"; fi
  log "loading $NKEYS keys into $target (redis-cli --pipe)"
  t0=$(stamp)
  redis-cli -h "$HOST" -p "$port" --pipe <"$TMP/load.resp" >"$TMP/pipe-$target.out" 2>&1 ||
    { cat "$TMP/pipe-$target.out" >&2; die "redis-cli --pipe failed against $target"; }
  t1=$(stamp)
  grep -q 'errors: 0, replies: '"$NKEYS" "$TMP/pipe-$target.out" ||
    { cat "$TMP/pipe-$target.out" >&2; die "loading $target answered errors"; }
  log "  loaded in $(((t1 - t0) / 1000000)) ms"
  dbsize="$(redis-cli -h "$HOST" -p "$port" DBSIZE)"
  [[ "$dbsize" == "$NKEYS" ]] || die "$target: DBSIZE is $dbsize after loading, expected $NKEYS"
done

# --- machine info ---------------------------------------------------------------------------------
machine_block
cat <<EOF
- redis-cli: $(redis-cli --version 2>&1 | head -n 1)
- parameters: KEYS=$NKEYS PICKS=$PICKS ROUNDS=$ROUNDS DATA_SIZE=$DATA_SIZE

EOF

# --- runs -----------------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv" # target test ms
: >"$RESULTS"

# timed <target> <test> <port> <expected lines> <redis-cli args...>
timed() {
  local target="$1" test="$2" port="$3" want="$4" out="$TMP/out.txt" t0 t1 lines distinct
  shift 4
  t0=$(stamp)
  # In the background so that a signal runs the cleanup trap at once.
  redis-cli -h "$HOST" -p "$port" "$@" >"$out" 2>"$TMP/cli.err" &
  CHILD_PID=$!
  wait "$CHILD_PID" || { cat "$TMP/cli.err" >&2; die "redis-cli $* failed against $target"; }
  CHILD_PID=
  t1=$(stamp)
  lines=$(wc -l <"$out")
  distinct=$(sort -u "$out" | wc -l)
  [[ "$lines" == "$want" && "$distinct" == "$want" ]] ||
    die "$target $test: $lines lines ($distinct distinct), expected $want"
  printf '%s\t%s\t%s\n' "$target" "$test" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')" >>"$RESULTS"
}

log "warm-up"
for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" --scan >/dev/null
  redis-cli -h "$HOST" -p "$port" KEYS 'pick:*' >/dev/null
done

for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2)); then order=(redis gateway); else order=(gateway redis); fi
  for test in scan keys; do
    for target in "${order[@]}"; do
      if [[ "$target" == redis ]]; then port="$REDIS_PORT"; else port="$GW_PORT"; fi
      log "round $round/$ROUNDS: $target $test"
      if [[ "$test" == scan ]]; then
        timed "$target" scan "$port" "$NKEYS" --scan
      else
        timed "$target" keys "$port" "$PICKS" KEYS 'pick:*'
      fi
    done
  done
done

# --- table ----------------------------------------------------------------------------------------
"$PY" - "$RESULTS" "$ROUNDS" "$NKEYS" "$PICKS" <<'EOF'
import statistics
import sys

runs = {}
with open(sys.argv[1]) as f:
    for line in f:
        target, test, ms = line.rstrip("\n").split("\t")
        runs.setdefault((test, target), []).append(float(ms))

names = {"scan": "`redis-cli --scan` (%s keys, COUNT 10)" % sys.argv[3],
         "keys": "`KEYS pick:*` (%s of %s)" % (sys.argv[4], sys.argv[3])}
targets = {"scan": 1.5, "keys": 2.0}
print(f"## Results (median of {sys.argv[2]} rounds, wall-clock ms; ratio = gateway / redis)")
print("| test | redis ms | gateway ms | ratio | target | met |")
print("|---|---:|---:|---:|---:|---|")
for test in ("scan", "keys"):
    r = statistics.median(runs[(test, "redis")])
    g = statistics.median(runs[(test, "gateway")])
    ratio = g / r if r else float("inf")
    met = "yes" if ratio <= targets[test] else "no"
    print(f"| {names[test]} | {r:.1f} | {g:.1f} | {ratio:.2f} | <= {targets[test]}x | {met} |")
print()
for test in ("scan", "keys"):
    print("raw %s: redis %s; gateway %s" % (test, " ".join("%.1f" % v for v in runs[(test, "redis")]),
                                           " ".join("%.1f" % v for v in runs[(test, "gateway")])))
EOF

# --- server side, without redis-cli's start-up --------------------------------------------------
# The wall-clock times above include starting redis-cli (several ms), which hides part of the
# cost of one KEYS call. Here: one open connection per target, medians of many calls.
"$PY" - "$REDIS_PORT" "$GW_PORT" "$PICKS" <<'EOF'
import statistics
import sys
import time

import redis


def median_ms(fn, n):
    ts = []
    for _ in range(n):
        t = time.monotonic()
        fn()
        ts.append((time.monotonic() - t) * 1000.0)
    return statistics.median(ts)


res = {}
for name, port in (("redis", int(sys.argv[1])), ("gateway", int(sys.argv[2]))):
    r = redis.Redis(host="127.0.0.1", port=port)
    assert len(r.keys("pick:*")) == int(sys.argv[3])
    res[name] = (median_ms(lambda: r.keys("pick:*"), 21),
                 median_ms(lambda: r.scan(0, count=10), 2001))
print()
print("## One connection, no redis-cli start-up (median ms per call)")
print("| call | redis ms | gateway ms | ratio |")
print("|---|---:|---:|---:|")
for i, call in enumerate(("`KEYS pick:*`", "`SCAN 0 COUNT 10`")):
    r, g = res["redis"][i], res["gateway"][i]
    print(f"| {call} | {r:.3f} | {g:.3f} | {g / r:.2f} |")
EOF
