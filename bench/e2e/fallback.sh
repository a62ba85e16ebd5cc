#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/fallback.sh: what --fallback costs a GET (issue 10), in one run.
#
#   bench/e2e/fallback.sh [GATEWAY_BIN]
#
# Starts on 127.0.0.1 only, with free ports and a fresh temp dir (bench/e2e/common.sh): the old
# redis-server, nats-server -js, a gateway without --fallback (bucket fbplain) and a second one
# with --fallback pointing at the old Redis (bucket fb). bench/e2e/fallback_client.py then times
# N single GETs (one request at a time, raw RESP) on each (see its docstring) and counts the
# old Redis's GET+PTTL calls per fallback miss and per hit.
#
# Target (issue 10): a miss adds at most one old-Redis round trip; a hit adds nothing.
#
# Environment: N [10000] GETs per measurement; KEEP_TMP=1 keeps the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-10000}"
PY=/usr/bin/python3
HOST=127.0.0.1
if (($# == 1)); then GATEWAY_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; fi

E2E_NAME=fallback
E2E_BUCKET=fbplain
E2E_TOOLS=
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

FB_PORT_FILE="$TMP/gateway-fb.port"
"$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$FB_PORT_FILE" --nats "$NATS_URL" \
  --bucket fb --fallback "redis://$HOST:$REDIS_PORT" >"$TMP/gateway-fb.log" 2>&1 &
PIDS+=($!)
wait_until 20 "fallback gateway" "${PIDS[-1]}" test -s "$FB_PORT_FILE"
FB_PORT="$(head -n 1 "$FB_PORT_FILE" | tr -d '[:space:]')"
wait_until 10 "fallback gateway" "${PIDS[-1]}" pings "$FB_PORT"

machine_block
echo "- parameters: N=$N; second gateway: --bucket fb --fallback redis://$HOST:<old redis>"
echo

log "timing $N GETs per case"
"$PY" "$ROOT/bench/e2e/fallback_client.py" --old "$REDIS_PORT" --plain "$GW_PORT" \
  --fallback "$FB_PORT" -n "$N" --out "$TMP/result.json"

"$PY" - "$TMP/result.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [("old Redis GET (one old-Redis round trip)", "old"),
        ("gateway, no fallback: hit", "plain_hit"),
        ("gateway, no fallback: miss (NATS 404)", "plain_miss"),
        ("gateway + fallback: hit (copied before)", "fb_hit"),
        ("gateway + fallback: miss, copied from the old Redis", "fb_miss"),
        ("gateway + fallback: in neither store", "fb_absent")]
print("| GET, one at a time | median µs | p99 µs |")
print("|---|---:|---:|")
for name, k in rows:
    print("| %s | %.1f | %.1f |" % (name, r[k]["median_us"], r[k]["p99_us"]))
print()
print("- hit: fallback adds %+.1f µs to the median (%.2fx); old-Redis calls per hit: %s" % (
    r["fb_hit"]["median_us"] - r["plain_hit"]["median_us"],
    r["fb_hit"]["median_us"] / r["plain_hit"]["median_us"], r["old_calls_per_hit"]))
print("- absent: fallback adds %+.1f µs to a NATS miss; the old Redis's own GET takes %.1f µs"
      % (r["fb_absent"]["median_us"] - r["plain_miss"]["median_us"], r["old"]["median_us"]))
print("- copy on miss: %+.1f µs over a NATS miss (the old-Redis round trip plus the create-CAS "
      "write to NATS)" % (r["fb_miss"]["median_us"] - r["plain_miss"]["median_us"]))
print("- old-Redis calls per miss: %s (GET and PTTL, sent together: one round trip)"
      % r["old_calls_per_miss"])
PYEOF
