#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/migrate.sh: `redis-nats-gateway migrate` against raw pipelined NATS puts (issue 10),
# in one run.
#
#   bench/e2e/migrate.sh [GATEWAY_BIN]
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (bench/e2e/common.sh):
# redis-server (no persistence), nats-server -js and a gateway (unused here; common.sh starts
# it). Loads $KEYS keys of $SIZE bytes into redis-server (key:1 .. key:N, a Lua loop in batches
# of 100,000, which needs no DEBUG), then runs $ROUNDS rounds, alternating the order every round:
#   migrate  redis-nats-gateway migrate --from redis://... --nats ... --bucket mig<r> --json
#            --no-progress: SCAN, PTTL+GET pipelined, a create (CAS on "no message") per key into
#            a fresh bucket; keys/s = keys scanned / the copy's seconds (its own timer, from the
#            first SCAN to the final checkpoint); the wall time with start-up is shown as well.
#   raw      bench/nats_kv_bench -t set -c $RAW_C -P $RAW_P -n $KEYS -d $SIZE -r $KEYS into a
#            fresh bucket raw<r>: the gateway's SET as plain PubAck'd puts over one nats.c
#            connection, $RAW_C x $RAW_P in flight (the raw NATS floor of docs/benchmarks.md).
# Prints the machine block, a Markdown table per round, the medians and the ratio
# migrate / raw (target, issue 10: at least 0.5).
#
# The gateway binary: the argument, else $GATEWAY_BIN, else build/release (built by common.sh
# when missing). nats_kv_bench: $NATS_KV_BENCH_BIN, else the first built one of build/bench,
# build/release, build/test, else built in build/bench (Release).
#
# Environment (defaults in brackets): KEYS [1000000], SIZE [10], ROUNDS [3], RAW_C [1],
# RAW_P [1000], MIGRATE_ARGS (extra migrate flags, e.g. "--window 20000"), KEEP_TMP=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KEYS="${KEYS:-1000000}"
SIZE="${SIZE:-10}"
ROUNDS="${ROUNDS:-3}"
RAW_C="${RAW_C:-1}"
RAW_P="${RAW_P:-1000}"
MIGRATE_ARGS="${MIGRATE_ARGS:-}"
PY=/usr/bin/python3
HOST=127.0.0.1

if (($# > 1)); then
  echo "usage: $0 [GATEWAY_BIN]" >&2
  exit 2
fi
if (($# == 1)); then
  GATEWAY_BIN="$1"
elif [[ -z "${GATEWAY_BIN:-}" && -x "$ROOT/build/release/gateway/redis-nats-gateway" ]]; then
  GATEWAY_BIN="$ROOT/build/release/gateway/redis-nats-gateway"
fi
if [[ -n "${GATEWAY_BIN:-}" ]]; then
  [[ -x "$GATEWAY_BIN" ]] || { echo "migrate: not an executable: $GATEWAY_BIN" >&2; exit 1; }
  GATEWAY_BIN="$(cd "$(dirname "$GATEWAY_BIN")" && pwd)/$(basename "$GATEWAY_BIN")"
fi

# --- nats_kv_bench (before any server starts) ---------------------------------------------------
if [[ -z "${NATS_KV_BENCH_BIN:-}" ]]; then
  for b in "$ROOT/build/bench/bench/nats_kv_bench" "$ROOT/build/release/bench/nats_kv_bench" \
    "$ROOT/build/test/bench/nats_kv_bench"; do
    if [[ -x "$b" ]]; then
      NATS_KV_BENCH_BIN="$b"
      break
    fi
  done
fi
if [[ -z "${NATS_KV_BENCH_BIN:-}" ]]; then
  "$ROOT/scripts/deps.sh"
  BENCH_BUILD="$ROOT/build/bench"
  mkdir -p "$BENCH_BUILD"
  echo "migrate: building nats_kv_bench (Release, build/bench)" >&2
  cmake -S "$ROOT" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release -DRNG_BUILD_TESTS=OFF \
    >"$BENCH_BUILD/configure.log" 2>&1 ||
    { cat "$BENCH_BUILD/configure.log" >&2; echo "migrate: cmake configure failed" >&2; exit 1; }
  cmake --build "$BENCH_BUILD" --target nats_kv_bench -j "$(nproc)" >"$BENCH_BUILD/build.log" 2>&1 ||
    { tail -n 100 "$BENCH_BUILD/build.log" >&2; echo "migrate: build of nats_kv_bench failed" >&2; exit 1; }
  NATS_KV_BENCH_BIN="$BENCH_BUILD/bench/nats_kv_bench"
fi
[[ -x "$NATS_KV_BENCH_BIN" ]] || { echo "migrate: not found: $NATS_KV_BENCH_BIN" >&2; exit 1; }

E2E_NAME=migrate
E2E_BUCKET=gw
E2E_TOOLS=
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

# --- the source ---------------------------------------------------------------------------------
log "loading $KEYS keys of $SIZE bytes into redis-server"
LOAD='local n, size, base = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = base + 1, base + n do
  local v = string.format("%0" .. size .. "d", i)
  redis.call("SET", "key:" .. i, string.sub(v, -size))
end
return n'
for ((base = 0; base < KEYS; base += 100000)); do
  n=$((KEYS - base < 100000 ? KEYS - base : 100000))
  redis-cli -h "$HOST" -p "$REDIS_PORT" EVAL "$LOAD" 0 "$n" "$SIZE" "$base" >/dev/null
done
got="$(redis-cli -h "$HOST" -p "$REDIS_PORT" DBSIZE)"
[[ "$got" == "$KEYS" ]] || die "redis-server holds $got keys, not $KEYS"

machine_block
cat <<EOF
- nats_kv_bench: $NATS_KV_BENCH_BIN
- parameters: KEYS=$KEYS SIZE=$SIZE ROUNDS=$ROUNDS; raw: -t set -c $RAW_C -P $RAW_P -d $SIZE -r $KEYS;
  migrate: default window (5000 keys) ${MIGRATE_ARGS:+plus $MIGRATE_ARGS}

EOF

# --- rounds -------------------------------------------------------------------------------------
run_migrate() { # round -> "keys/s wall_s copy_s"
  local out start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  out="$("$GATEWAY_BIN" migrate --from "redis://$HOST:$REDIS_PORT" --nats "$NATS_URL" \
    --bucket "mig$1" --json --no-progress $MIGRATE_ARGS 2>"$TMP/migrate-$1.log")" ||
    die "migrate failed (round $1): $(tail -n 5 "$TMP/migrate-$1.log")"
  end=$(date +%s.%N)
  echo "$out" >"$TMP/migrate-$1.json"
  "$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["ok"] and r["copied"] == int(sys.argv[2]), r
print("%.0f %.3f %.3f" % (r["keys_per_sec"], float(sys.argv[4]) - float(sys.argv[3]), r["seconds"]))' \
    "$out" "$KEYS" "$start" "$end"
}

run_raw() { # round -> "keys/s wall_s"
  local out start end
  start=$(date +%s.%N)
  out="$("$NATS_KV_BENCH_BIN" --url "$NATS_URL" --bucket "raw$1" -t set -c "$RAW_C" -P "$RAW_P" \
    -n "$KEYS" -d "$SIZE" -r "$KEYS" --csv 2>"$TMP/raw-$1.log")" ||
    die "nats_kv_bench failed (round $1): $(tail -n 5 "$TMP/raw-$1.log")"
  end=$(date +%s.%N)
  echo "$out" >"$TMP/raw-$1.csv"
  "$PY" -c 'import csv, io, sys
rows = list(csv.reader(io.StringIO(sys.argv[1])))
print("%.0f %.3f" % (float(rows[1][1]), float(sys.argv[3]) - float(sys.argv[2])))' \
    "$out" "$start" "$end"
}

MIG=()
RAW=()
echo "| round | order | migrate keys/s | migrate copy s | migrate wall s | raw puts/s | raw wall s | ratio |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    log "round $r: migrate, then raw"
    m="$(run_migrate "$r")"
    w="$(run_raw "$r")"
    order="migrate, raw"
  else
    log "round $r: raw, then migrate"
    w="$(run_raw "$r")"
    m="$(run_migrate "$r")"
    order="raw, migrate"
  fi
  read -r m_rate m_wall m_copy <<<"$m"
  read -r w_rate w_wall <<<"$w"
  MIG+=("$m_rate")
  RAW+=("$w_rate")
  ratio="$("$PY" -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' \
    "$m_rate" "$w_rate")"
  echo "| $r | $order | $m_rate | $m_copy | $m_wall | $w_rate | $w_wall | $ratio |"
done
echo
"$PY" - "${MIG[*]}" "${RAW[*]}" <<'PYEOF'
import statistics, sys
mig = [float(x) for x in sys.argv[1].split()]
raw = [float(x) for x in sys.argv[2].split()]
m, w = statistics.median(mig), statistics.median(raw)
print("| median | migrate keys/s | raw puts/s | migrate / raw | target |")
print("|---|---:|---:|---:|---|")
print("| %d rounds | %.0f | %.0f | %.2f | >= 0.5 %s |" % (len(mig), m, w, m / w,
                                                       "(met)" if m / w >= 0.5 else "(MISSED)"))
PYEOF
