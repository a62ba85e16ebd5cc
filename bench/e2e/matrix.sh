#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/matrix.sh: the performance matrix. For every case (test x -c x -P x -d), in one run:
#   - redis-benchmark against redis-server,
#   - redis-benchmark against the gateway,
#   - bench/nats_kv_bench ("raw NATS"): the gateway's own JetStream KV operations for the same
#     command, over one nats.c connection with the same number of requests in flight, against the
#     same nats-server the gateway uses (bucket $RAW_BUCKET; the gateway's is "matrix").
# The target order is reversed from one case to the next (and every round), so that a noisy
# machine penalises all three alike.
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (bench/e2e/common.sh):
# redis-server (no RDB, no AOF), nats-server -js, and the gateway (Release build) against that
# nats-server. Builds bench/nats_kv_bench.cc (target nats_kv_bench, in build/bench) unless
# NATS_KV_BENCH_BIN is set. Everything started is stopped on exit, Ctrl-C included.
#
# Cases: TESTS x CLIENTS_LIST x PIPELINE_LIST x SIZES; incr ignores -d, so it runs once, with the
# first size, and its d column shows "-". The sizes are the outer loop and set comes before get
# within a size, so a GET of size d reads the values the SETs of size d just wrote (nothing else
# populates the keys). redis-benchmark runs as
#   redis-benchmark -t <test> -c C -P P -d D -r $KEYSPACE -n N --csv
# and nats_kv_bench as
#   nats_kv_bench --url <nats> --bucket $RAW_BUCKET -t <test> -c C -P P -d D -r $KEYSPACE -n N --csv
# N is chosen per case and target from an estimate of its rate (the table in `requests` below,
# measured on the 2-core development machine) so that each run lasts about 2 s, times $SCALE.
# A run that answers an error (redis-benchmark 7 then exits non-zero, as nats_kv_bench does) aborts
# the script.
#
# Prints the machine block, a Markdown table of medians over the rounds (ops/s of the three
# targets, gateway/redis and gateway/raw-NATS ratios, p50 and p99 in ms of each), the ratio of the
# gateway's ops/s at -c 500 to its ops/s at -c 50 for each test/P/d, and runs that were far from
# the intended duration. Latencies: redis-benchmark's p50/p99 (its histogram stops at 3 s, so
# 3000.3 ms means "3 s or more"; with -P > 1 every request of a batch gets the time of the
# batch's first reply) and nats_kv_bench's (each request: from its batch being sent to its own
# completion).
#
# Environment (defaults in brackets):
#   SCALE [1.0]              multiplies every N (0.2 for a quick look, 2 for steadier figures)
#   ROUNDS [1]               rounds; the tables show medians
#   TESTS [set,get,incr,mset]
#   CLIENTS_LIST [1,50,500]  -c values
#   PIPELINE_LIST [1,16]     -P values
#   SIZES [100,4096]         -d values
#   KEYSPACE [100000]        -r
#   RAW_BUCKET [rawbench]    nats_kv_bench's bucket (created by the tool, file storage, history 1)
#   RAW_ARGS                 extra nats_kv_bench flags (e.g. "--mode async")
#   NATS_KV_BENCH_BIN        the tool [build/bench/bench/nats_kv_bench, built if unset]
#   GATEWAY_BIN              gateway binary [build/release/gateway/redis-nats-gateway, built if unset]
#   GATEWAY_ARGS [--nats-timeout-ms 10000]  extra gateway flags (see below)
#   SKIP [mset:500:16:4096]  cases not to run, as test:c:P:d, comma-separated (see below)
#   RUN_TIMEOUT [300]        seconds before one run counts as hung (aborts the script)
#   KEEP_TMP=1               keep the temp dir (logs, raw CSV) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCALE="${SCALE:-1.0}"
ROUNDS="${ROUNDS:-1}"
TESTS="${TESTS:-set,get,incr,mset}"
CLIENTS_LIST="${CLIENTS_LIST:-1,50,500}"
PIPELINE_LIST="${PIPELINE_LIST:-1,16}"
SIZES="${SIZES:-100,4096}"
KEYSPACE="${KEYSPACE:-100000}"
RAW_BUCKET="${RAW_BUCKET:-rawbench}"
RAW_ARGS="${RAW_ARGS:-}"
RUN_TIMEOUT="${RUN_TIMEOUT:-300}"
# MSET -c 500 -P 16 -d 4096 keeps 80,000 puts of 4 KiB (330 MB) in flight. On the 2-core
# development machine JetStream stores about 4,000 of them a second, so the first batch takes
# ~16 s; the gateway's keepalive PING waits behind that backlog in the same connection, and after
# two unanswered PINGs (10 s) it drops the connection and fails every pending write. Skipped
# unless SKIP is set (even to "").
SKIP="${SKIP-mset:500:16:4096}"
# MSET at -c 500 -P 16 keeps 80,000 puts in flight: 2 to 3 s of JetStream work on a 2-core
# machine, beyond the gateway's default 2 s per NATS request (--nats-timeout-ms), so writes would
# time out and the run would abort. Set GATEWAY_ARGS (even to "") to override.
GATEWAY_ARGS="${GATEWAY_ARGS---nats-timeout-ms 10000}"
PY=/usr/bin/python3
HOST=127.0.0.1

IFS=, read -r -a tests <<<"$TESTS"
IFS=, read -r -a clients_list <<<"$CLIENTS_LIST"
IFS=, read -r -a pipeline_list <<<"$PIPELINE_LIST"
IFS=, read -r -a sizes <<<"$SIZES"
for t in "${tests[@]}"; do
  [[ "$t" =~ ^(set|get|incr|mset)$ ]] || { echo "matrix: unknown test '$t' (set, get, incr, mset)" >&2; exit 2; }
done
for v in "${clients_list[@]}" "${pipeline_list[@]}" "${sizes[@]}" "$ROUNDS" "$KEYSPACE"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "matrix: not a number: '$v'" >&2; exit 2; }
done
[[ "$SCALE" =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "matrix: SCALE must be a positive number" >&2; exit 2; }

# -c 500 needs ~500 sockets in redis-benchmark and in each server, plus their files.
max_c=0
for c in "${clients_list[@]}"; do ((c > max_c)) && max_c=$c; done
want_fds=$((max_c * 2 + 1024))
if (($(ulimit -n) < want_fds)); then
  ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  (($(ulimit -n) >= want_fds)) ||
    { echo "matrix: open-file limit $(ulimit -n) is too low for -c $max_c (hard limit $(ulimit -Hn))" >&2; exit 1; }
fi

# --- the tool (before any server starts) ----------------------------------------------------------
if [[ -z "${NATS_KV_BENCH_BIN:-}" ]]; then
  "$ROOT/scripts/deps.sh" # installs only what is missing (common.sh may run it again: a no-op)
  BENCH_BUILD="$ROOT/build/bench"
  mkdir -p "$BENCH_BUILD"
  echo "matrix: building nats_kv_bench (Release, build/bench)" >&2
  cmake -S "$ROOT" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release -DRNG_BUILD_TESTS=OFF \
    >"$BENCH_BUILD/configure.log" 2>&1 ||
    { cat "$BENCH_BUILD/configure.log" >&2; echo "matrix: cmake configure failed" >&2; exit 1; }
  cmake --build "$BENCH_BUILD" --target nats_kv_bench -j "$(nproc)" >"$BENCH_BUILD/build.log" 2>&1 ||
    { tail -n 100 "$BENCH_BUILD/build.log" >&2; echo "matrix: build of nats_kv_bench failed" >&2; exit 1; }
  NATS_KV_BENCH_BIN="$BENCH_BUILD/bench/nats_kv_bench"
fi
[[ -x "$NATS_KV_BENCH_BIN" ]] || { echo "matrix: not found: $NATS_KV_BENCH_BIN" >&2; exit 1; }

E2E_NAME=matrix
E2E_BUCKET=matrix
E2E_TOOLS="redis-benchmark timeout"
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

# A failed run aborts the script, but what was measured before it is still printed.
die() {
  log "error: $*"
  if [[ -s "${RESULTS:-}" ]]; then
    printf '\n**Aborted: %s** (the tables below hold the runs before it)\n\n' "$*"
    report || true
  fi
  exit 1
}

# Sanity: a benchmark against a target that answers errors would report nonsense speeds.
for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" SET matrix:probe hello >/dev/null
  [[ "$(redis-cli -h "$HOST" -p "$port" GET matrix:probe)" == hello ]] ||
    die "SET/GET round trip failed on port $port"
done

# --- machine info ---------------------------------------------------------------------------------
machine_block
cat <<EOF
- nats.c: $(pkg-config --modversion libnats 2>/dev/null || echo unknown)
- raw NATS: $NATS_KV_BENCH_BIN, bucket $RAW_BUCKET, args: ${RAW_ARGS:-<none>}
- parameters: SCALE=$SCALE ROUNDS=$ROUNDS KEYSPACE=$KEYSPACE
- cases: TESTS=$TESTS CLIENTS_LIST=$CLIENTS_LIST PIPELINE_LIST=$PIPELINE_LIST SIZES=$SIZES

EOF

# --- requests per run -----------------------------------------------------------------------------
# Estimated ops/s of each target, measured on the 2-core development machine (a SCALE=0.3 run of
# this script): per target, test and -d, for (-c 1 -P 1) (-c 1 -P 16) (-c 50 -P 1) (-c 50 -P 16)
# (-c 500 -P 1) (-c 500 -P 16). N is 2 s worth of that, times SCALE, but at least one batch per
# client (C * P) and at least 1000. Sizes other than 100 and 4096 use the nearer row.
RATES='
redis set 100 18000 180000 45000 390000 31000 430000
redis set 4096 9600 38000 33000 47000 20000 71000
redis get 100 21000 230000 46000 430000 23000 260000
redis get 4096 24000 98000 39000 260000 32000 170000
redis incr 100 20000 240000 38000 440000 32000 230000
redis mset 100 12000 62000 21000 60000 13000 43000
redis mset 4096 10000 15000 18000 8400 6600 5000
gateway set 100 3900 20000 18000 40000 22000 52000
gateway set 4096 3100 7900 9200 7700 5000 3200
gateway get 100 5900 36000 27000 75000 25000 82000
gateway get 4096 1900 12000 14000 44000 20000 49000
gateway incr 100 3800 15000 12000 23000 12000 15000
gateway mset 100 1100 2300 1600 2100 2000 2100
gateway mset 4096 800 1100 870 410 370 400
raw set 100 8400 32000 45000 48000 51000 40000
raw set 4096 2600 15000 14000 13000 9500 7000
raw get 100 7900 43000 67000 99000 84000 93000
raw get 4096 3000 38000 35000 49000 35000 53000
raw incr 100 5200 24000 23000 24000 13000 16000
raw mset 100 2000 4000 2800 3500 3200 2900
raw mset 4096 1400 1300 570 310 610 430
'
requests() { # <target> <test> <c> <P> <d>
  awk -v target="$1" -v test="$2" -v c="$3" -v p="$4" -v d="$5" -v scale="$SCALE" '
    NF == 9 && $1 == target && $2 == test {
      dd = (test == "incr" || d < 1000) ? 100 : 4096
      if ($3 != dd && !(test == "incr")) next
      col = 4 + (c <= 1 ? 0 : (c <= 50 ? 2 : 4)) + (p <= 1 ? 0 : 1)
      rate = $col
    }
    END {
      if (rate == "") rate = 5000
      n = int(rate * 2 * scale)
      if (n < c * p) n = c * p
      if (n < 1000) n = 1000
      print n
    }' <<<"$RATES"
}

# --- tables ---------------------------------------------------------------------------------------
report() {
"$PY" - "$RESULTS" "$ROUNDS" "$TESTS" "$SCALE" <<'EOF'
import statistics
import sys

path, rounds, test_order = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
intended = 2 * float(sys.argv[4])  # seconds per run that `requests` aims at
runs = {}  # (test, c, p, d) -> target -> list of (n, rps, p50, p99)
for line in open(path):
    rnd, test, c, p, d, target, n, rps, p50, p99 = line.rstrip("\n").split("\t")
    key = (test, int(c), int(p), int(d))
    runs.setdefault(key, {}).setdefault(target, []).append(
        (int(n), float(rps), float(p50), float(p99)))

def med(key, target, i):
    vals = [r[i] for r in runs.get(key, {}).get(target, [])]
    return statistics.median(vals) if vals else None

def ops(v):
    return "n/a" if v is None else f"{v:,.0f}"

def ms(v):
    return "n/a" if v is None else f"{v:.3f}"

def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}"

def sort_key(key):
    test, c, p, d = key
    return (test_order.index(test) if test in test_order else 99, c, p, d)

keys = sorted(runs, key=sort_key)
print(f"## Results (median of {rounds} round{'s' if rounds != 1 else ''})")
print()
print("ops/s of each target; gw/redis and gw/raw are ratios of ops/s; latencies in ms "
      "(redis-benchmark's p50/p99, nats_kv_bench's per-request figures). "
      "raw = nats_kv_bench on the gateway's nats-server.")
print()
print("| test | c | P | d | redis ops/s | gateway ops/s | raw NATS ops/s | gw/redis | gw/raw "
      "| redis p50 | gw p50 | raw p50 | redis p99 | gw p99 | raw p99 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in keys:
    test, c, p, d = key
    r, g, n = (med(key, t, 1) for t in ("redis", "gateway", "raw"))
    cells = [test.upper(), str(c), str(p), "-" if test == "incr" else str(d),
             ops(r), ops(g), ops(n), ratio(g, r), ratio(g, n)]
    cells += [ms(med(key, t, 2)) for t in ("redis", "gateway", "raw")]
    cells += [ms(med(key, t, 3)) for t in ("redis", "gateway", "raw")]
    print("| " + " | ".join(cells) + " |")

pairs = sorted({(t, p, d) for (t, c, p, d) in keys if c == 500 and (t, 50, p, d) in runs},
               key=lambda k: (test_order.index(k[0]) if k[0] in test_order else 99, k[1], k[2]))
if pairs:
    print()
    print("## Scaling from -c 50 to -c 500 (ops/s at -c 500 / ops/s at -c 50)")
    print()
    print("| test | P | d | gateway -c 50 | gateway -c 500 | gateway c500/c50 | raw c500/c50 "
          "| redis c500/c50 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t, p, d in pairs:
        a, b = (t, 50, p, d), (t, 500, p, d)
        g50, g500 = med(a, "gateway", 1), med(b, "gateway", 1)
        print(f"| {t.upper()} | {p} | {'-' if t == 'incr' else d} | {ops(g50)} | {ops(g500)} "
              f"| {ratio(g500, g50)} | {ratio(med(b, 'raw', 1), med(a, 'raw', 1))} "
              f"| {ratio(med(b, 'redis', 1), med(a, 'redis', 1))} |")

odd = []
for key in keys:
    for target, lst in sorted(runs[key].items()):
        for n, rps, _, _ in lst:
            secs = n / rps if rps else float("inf")
            if secs < intended / 3 or secs > max(intended * 3, 1.0):
                odd.append(f"{key[0]} -c {key[1]} -P {key[2]} -d {key[3]} {target}: "
                           f"n={n} took {secs:.2f} s")
if odd:
    print()
    print(f"Runs far from the intended {intended:.1f} s (N comes from the estimates in "
          "`requests`; the minimum is one batch per client): "
          + "; ".join(odd))
EOF
}


# --- runs -----------------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv" # round test c P d target n rps p50 p99
: >"$RESULTS"

# run_one <target> <test> <c> <P> <d> <n> [record=1 [round]]: one run, its CSV line appended.
run_one() {
  local target="$1" test="$2" c="$3" p="$4" d="$5" n="$6" record="${7:-1}" round="${8:-0}"
  local out="$TMP/last.csv" err="$TMP/last.err" port
  case "$target" in
    redis | gateway)
      [[ "$target" == redis ]] && port="$REDIS_PORT" || port="$GW_PORT"
      timeout "$RUN_TIMEOUT" redis-benchmark -h "$HOST" -p "$port" -t "$test" -c "$c" -P "$p" \
        -d "$d" -r "$KEYSPACE" -n "$n" --csv >"$out" 2>"$err" &
      ;;
    raw)
      # shellcheck disable=SC2086 # RAW_ARGS is a list of flags
      timeout "$RUN_TIMEOUT" "$NATS_KV_BENCH_BIN" --url "$NATS_URL" --bucket "$RAW_BUCKET" \
        -t "$test" -c "$c" -P "$p" -d "$d" -r "$KEYSPACE" -n "$n" --csv $RAW_ARGS \
        >"$out" 2>"$err" &
      ;;
  esac
  # In the background so that a signal to this script runs the cleanup trap at once.
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=
  cat "$err" >>"$TMP/runs.err"
  if ((rc != 0)); then
    tail -n 5 "$err" >&2
    die "$target failed (exit $rc) on $test -c $c -P $p -d $d -n $n (see $TMP/runs.err)"
  fi
  # Belt and braces: anything but the CSV header and one CSV line is an error.
  if grep -q -v '^"' "$out" || [[ "$(wc -l <"$out")" -ne 2 ]]; then
    grep -v '^"' "$out" | head -n 3 >&2
    die "$target answered errors on $test -c $c -P $p -d $d"
  fi
  ((record)) || return 0
  # CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",...
  tail -n 1 "$out" | tr -d '"' | awk -F, -v r="$round" -v t="$test" -v c="$c" -v p="$p" \
    -v d="$d" -v tg="$target" -v n="$n" \
    '{ printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r, t, c, p, d, tg, n, $2, $5, $7 }' \
    >>"$RESULTS"
}

log "warm-up"
run_one redis set 50 1 100 20000 0
run_one gateway set 50 1 100 20000 0
run_one raw set 50 1 100 20000 0
run_one gateway get 50 1 100 20000 0
run_one raw get 50 1 100 20000 0

# The case list, in run order: sizes outermost, then tests (set before get), -c, -P.
cases=()
skipped=()
for i in "${!sizes[@]}"; do
  d="${sizes[i]}"
  for t in "${tests[@]}"; do
    [[ "$t" == incr ]] && ((i > 0)) && continue # incr ignores -d: once
    for c in "${clients_list[@]}"; do
      for p in "${pipeline_list[@]}"; do
        if [[ ",$SKIP," == *",$t:$c:$p:$d,"* ]]; then
          skipped+=("$t -c $c -P $p -d $d")
        else
          cases+=("$t $c $p $d")
        fi
      done
    done
  done
done
total=$((${#cases[@]} * ROUNDS))
SECONDS_START=$SECONDS
k=0
for ((round = 1; round <= ROUNDS; round++)); do
  for spec in "${cases[@]}"; do
    read -r t c p d <<<"$spec"
    if (((k + round) % 2)); then order=(redis gateway raw); else order=(raw gateway redis); fi
    k=$((k + 1))
    log "[$k/$total, $((SECONDS - SECONDS_START)) s] round $round: $t -c $c -P $p -d $d (${order[*]})"
    for target in "${order[@]}"; do
      run_one "$target" "$t" "$c" "$p" "$d" "$(requests "$target" "$t" "$c" "$p" "$d")" 1 "$round"
    done
  done
done
log "all runs done in $((SECONDS - SECONDS_START)) s"
echo "- load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg); runs took $((SECONDS - SECONDS_START)) s"
((${#skipped[@]} == 0)) || echo "- skipped (SKIP=$SKIP): ${skipped[*]}"
echo

report
