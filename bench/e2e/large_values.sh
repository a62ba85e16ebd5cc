#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/large_values.sh: SET and GET of one large value (50 MiB by default), redis-server vs
# the gateway (which spills it to the NATS object store, issue 9), in one run, with a raw NATS
# object store reference.
#
#   bench/e2e/large_values.sh [GATEWAY_BIN]
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (bench/e2e/common.sh):
# redis-server (--save '' --appendonly no), nats-server -js and the gateway against it. Then:
#   1. bench/e2e/large_values_client.py: one random value, $ROUNDS rounds of SET then GET on each
#      target (targets alternate, the order flips every round), every GET checked byte for byte.
#      Raw RESP over one connection per target: the request is built before the clock starts and
#      written with one sendall, the reply is read with recv_into into a preallocated buffer, so
#      the client costs the same on both sides (redis-py's parser is 2-3x slower on a 50 MiB
#      GET: CLIENT=redis-py to see it). Peak RSS of each server during each operation: VmHWM
#      after resetting it through /proc/PID/clear_refs (sampling VmRSS every 5 ms if refused);
#      nats-server's peak is reported for the gateway's operations too.
#   2. bench/e2e/large_values_nats.js (unless RAW_NATS=0): nats.js os.putBlob / os.get of a value
#      of the same size on the same nats-server, $ROUNDS rounds.
# Prints the machine block and Markdown tables: median and min in ms and MB/s (10^6 bytes/s),
# ratios gateway / redis-server and gateway / raw NATS for SET, GET and SET+GET, peak RSS.
#
# The gateway binary: the argument, else $GATEWAY_BIN, else build/release/gateway/..., else
# build/test/gateway/... if built; with none of them common.sh builds build/release.
#
# Environment (defaults in brackets):
#   SIZE [52428800]     value size in bytes
#   ROUNDS [5]          rounds; the tables show medians (and min)
#   CLIENT [raw]        raw | redis-py
#   RAW_NATS [1]        0 skips the nats.js reference
#   GATEWAY_ARGS        extra gateway flags (e.g. "--object-threshold 65536")
#   KEEP_TMP=1          keep the temp dir (logs, JSON results) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SIZE="${SIZE:-52428800}"
ROUNDS="${ROUNDS:-5}"
CLIENT="${CLIENT:-raw}"
RAW_NATS="${RAW_NATS:-1}"
PY=/usr/bin/python3
HOST=127.0.0.1

if (($# > 1)); then
  echo "usage: $0 [GATEWAY_BIN]" >&2
  exit 2
fi
if (($# == 1)); then
  GATEWAY_BIN="$1"
elif [[ -z "${GATEWAY_BIN:-}" ]]; then
  for b in "$ROOT/build/release/gateway/redis-nats-gateway" \
    "$ROOT/build/test/gateway/redis-nats-gateway"; do
    if [[ -x "$b" ]]; then
      GATEWAY_BIN="$b"
      break
    fi
  done
fi
if [[ -n "${GATEWAY_BIN:-}" ]]; then
  [[ -x "$GATEWAY_BIN" ]] || { echo "large_values: not an executable: $GATEWAY_BIN" >&2; exit 1; }
  GATEWAY_BIN="$(cd "$(dirname "$GATEWAY_BIN")" && pwd)/$(basename "$GATEWAY_BIN")"
fi

E2E_NAME=large_values
E2E_BUCKET=large
E2E_TOOLS=
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

REDIS_PID="${PIDS[0]}"
GW_PID="${PIDS[2]}"
[[ "$(cat "/proc/$REDIS_PID/comm")" == redis-server ]] || die "PID $REDIS_PID is not redis-server"
[[ "$(cat "/proc/$NATS_PID/comm")" == nats-server ]] || die "PID $NATS_PID is not nats-server"
[[ "$(cat "/proc/$GW_PID/comm")" == redis-nats-gate* ]] || die "PID $GW_PID is not the gateway"
for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" SET large:probe hello >/dev/null
  [[ "$(redis-cli -h "$HOST" -p "$port" GET large:probe)" == hello ]] ||
    die "SET/GET round trip failed on port $port"
done
if ! "$GATEWAY_BIN" --help 2>&1 | grep -q -- --object-threshold; then
  log "warning: this gateway has no --object-threshold: large values will not use the object store"
fi

NATS_JS_OK=0
if [[ "$RAW_NATS" == 1 ]]; then
  if command -v node >/dev/null 2>&1 &&
    [[ -f "$ROOT/tests/integration/node/node_modules/nats/package.json" ]]; then
    NATS_JS_OK=1
  else
    log "no node or no nats package in tests/integration/node (npm ci there): no raw NATS reference"
  fi
fi

# --- machine info -----------------------------------------------------------------------------
machine_block
cat <<EOF
- parameters: SIZE=$SIZE ROUNDS=$ROUNDS CLIENT=$CLIENT RAW_NATS=$RAW_NATS
- node: $(node --version 2>/dev/null || echo none), nats.js: $(sed -n 's/^  "version": "\(.*\)",/\1/p' \
  "$ROOT/tests/integration/node/node_modules/nats/package.json" 2>/dev/null || echo none)
- nats-server max_payload: $("$PY" -c 'import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
line = s.recv(65536).split(b"\r\n")[0]
print(json.loads(line[5:])["max_payload"])' "${NATS_URL##*:}")

EOF

# --- runs ---------------------------------------------------------------------------------------
log "redis-server and gateway: $ROUNDS rounds of SET+GET of $SIZE bytes"
"$PY" "$ROOT/bench/e2e/large_values_client.py" run --size "$SIZE" --rounds "$ROUNDS" \
  --client "$CLIENT" --target "redis:$REDIS_PORT:$REDIS_PID" \
  --target "gateway:$GW_PORT:$GW_PID,$NATS_PID" --out "$TMP/result.json" &
CHILD_PID=$!
rc=0
wait "$CHILD_PID" || rc=$?
CHILD_PID=
((rc == 0)) || die "large_values_client.py failed (exit $rc; logs in $TMP)"

NATS_RESULT=()
if ((NATS_JS_OK)); then
  log "raw NATS: nats.js os.putBlob/os.get, $ROUNDS rounds"
  node "$ROOT/bench/e2e/large_values_nats.js" --url "$NATS_URL" --size "$SIZE" \
    --rounds "$ROUNDS" --pid "$NATS_PID" --out "$TMP/nats.json" &
  CHILD_PID=$!
  rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=
  ((rc == 0)) || die "large_values_nats.js failed (exit $rc)"
  NATS_RESULT=("$TMP/nats.json")
fi

"$PY" "$ROOT/bench/e2e/large_values_client.py" report "$TMP/result.json" "${NATS_RESULT[@]}"
if grep -qiE 'error|panic|fatal' "$TMP/gateway.log"; then
  echo
  echo "gateway log lines with error/panic/fatal:"
  grep -iE 'error|panic|fatal' "$TMP/gateway.log" | head -n 10
fi
