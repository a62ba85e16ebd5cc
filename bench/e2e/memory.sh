#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/memory.sh: resident memory of the gateway against redis-server, in one run.
#
# Starts redis-server, nats-server -js and the gateway on 127.0.0.1 the way run.sh does
# (bench/e2e/common.sh: free ports, fresh temp dir, everything stopped on exit), then reads
# VmRSS and VmHWM from /proc/PID/status of the gateway and of redis-server:
#   (a) at rest, after a SET/GET round trip;
#   (b) with $CONNS idle client connections (bench/e2e/memory_conns.py: each sends one PING and
#       waits for +PONG, so the server has built its client state, then stays idle), one target
#       at a time (a process cannot hold 2 x 10,000 sockets under a 20,000 open-file limit).
#       KB per connection = (RSS with the connections - RSS just before) / $CONNS. Then the
#       connections are closed and RSS is read once more (what the allocator kept);
#   (c) under load, on a freshly restarted redis-server and gateway (so that what the allocator
#       kept from (b) does not hide anything): redis-benchmark -c $BUSY_CLIENTS -t set,get
#       -d 100 -r 100000 -n $BUSY_N, with RSS sampled every $SAMPLE_S seconds while it runs:
#       peak and mean of the samples.
# Prints the machine block and a Markdown table. The target from the issue: 10,000 idle
# connections at most 20 KB of gateway RSS each.
#
# Environment (defaults in brackets):
#   CONNS [10000]        idle connections for (b)
#   BUSY_CLIENTS [500]   redis-benchmark -c for (c)
#   BUSY_N [300000]      redis-benchmark -n for (c) (SET then GET, each -n requests)
#   SAMPLE_S [0.2]       RSS sampling interval during (c)
#   TARGET_KB [20]       per-connection target for the gateway
#   GATEWAY_BIN          use this gateway binary instead of building build/release
#   GATEWAY_ARGS         extra gateway flags; --maxclients max(CONNS, BUSY_CLIENTS) + 100 is
#                        added unless given
#   KEEP_TMP=1           keep the temp dir (logs, samples) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONNS="${CONNS:-10000}"
BUSY_CLIENTS="${BUSY_CLIENTS:-500}"
BUSY_N="${BUSY_N:-300000}"
SAMPLE_S="${SAMPLE_S:-0.2}"
TARGET_KB="${TARGET_KB:-20}"
PY=/usr/bin/python3
HOST=127.0.0.1

# Every server started below inherits this: 10,000 sockets plus files and NATS.
hard_nofile="$(ulimit -Hn)"
[[ "$hard_nofile" == unlimited ]] && hard_nofile=65536
ulimit -n "$hard_nofile"
if (($(ulimit -n) < CONNS + 200)); then
  echo "memory: the open-file limit $(ulimit -n) is too low for CONNS=$CONNS" >&2
  exit 1
fi
# The gateway refuses connections at --maxclients (default 10000); leave room for redis-cli.
MAXCLIENTS=$((CONNS > BUSY_CLIENTS ? CONNS + 100 : BUSY_CLIENTS + 100))
if [[ " ${GATEWAY_ARGS:-} " != *" --maxclients "* ]]; then
  GATEWAY_ARGS="${GATEWAY_ARGS:+$GATEWAY_ARGS }--maxclients $MAXCLIENTS"
fi

E2E_NAME=memory
E2E_BUCKET=memory
E2E_TOOLS=redis-benchmark
# shellcheck source=bench/e2e/common.sh
source "$ROOT/bench/e2e/common.sh"

REDIS_PID="${PIDS[0]}"
GW_PID="${PIDS[2]}"
[[ "$(cat "/proc/$REDIS_PID/comm")" == redis-server ]] || die "PID $REDIS_PID is not redis-server"
[[ "$(cat "/proc/$GW_PID/comm")" == redis-nats-gate* ]] || die "PID $GW_PID is not the gateway"

for port in "$REDIS_PORT" "$GW_PORT"; do
  redis-cli -h "$HOST" -p "$port" SET memory:probe hello >/dev/null
  [[ "$(redis-cli -h "$HOST" -p "$port" GET memory:probe)" == hello ]] ||
    die "SET/GET round trip failed on port $port"
done
# redis-server's default maxclients is 10000 too.
[[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" CONFIG SET maxclients "$MAXCLIENTS")" == OK ]] ||
  die "CONFIG SET maxclients failed on redis-server"
for port in "$REDIS_PORT" "$GW_PORT"; do
  max="$(redis-cli -h "$HOST" -p "$port" CONFIG GET maxclients | sed -n 2p)"
  ((max > CONNS)) || die "maxclients is $max on port $port, need more than $CONNS"
done

# --- measuring --------------------------------------------------------------------------------
# Waits for the background child and forgets it. (common.sh's cleanup must not see the PID of a
# child that has already exited: its `[[ -n $CHILD_PID ]] && kill ...` then fails under set -e
# and the cleanup stops before stopping the servers.)
reap_child() {
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=
  return "$rc"
}
# status_kb <pid> <field>: VmRSS or VmHWM in KB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# rss_settled <pid>: median of 5 VmRSS readings 0.2 s apart, after 1 s of quiet.
rss_settled() {
  sleep 1
  for _ in 1 2 3 4 5; do
    status_kb "$1" VmRSS
    sleep 0.2
  done | sort -n | sed -n 3p
}
connected_clients() {
  redis-cli -h "$HOST" -p "$1" INFO clients | tr -d '\r' | sed -n 's/^connected_clients://p'
}
# Only redis-cli itself is connected.
is_idle() { (($(connected_clients "$1") <= 1)); }

# stop_pid <pid>: TERM, wait up to 5 s, then KILL (a child of this shell).
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Fresh redis-server and gateway for (c), started as common.sh starts them (same flags, new
# ports; nats-server and its bucket stay).
restart_servers() {
  stop_pid "$GW_PID"
  stop_pid "$REDIS_PID"
  REDIS_PORT="$(free_port)"
  "$REDIS_SERVER_BIN" --bind "$HOST" --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$TMP/redis" --daemonize no --protected-mode yes --logfile "$TMP/redis-2.log" >/dev/null &
  REDIS_PID=$!
  PIDS[0]="$REDIS_PID"
  wait_until 10 redis-server "$REDIS_PID" pings "$REDIS_PORT"
  rm -f "$GW_PORT_FILE"
  # shellcheck disable=SC2086 # GATEWAY_ARGS is a list of flags, as in common.sh
  "$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$GW_PORT_FILE" --nats "$NATS_URL" \
    --data-dir "$TMP/gateway" --bucket "$E2E_BUCKET" ${GATEWAY_ARGS:-} >"$TMP/gateway-2.log" 2>&1 &
  GW_PID=$!
  PIDS[2]="$GW_PID"
  wait_until 20 gateway "$GW_PID" test -s "$GW_PORT_FILE"
  GW_PORT="$(head -n 1 "$GW_PORT_FILE" | tr -d '[:space:]')"
  wait_until 10 gateway "$GW_PID" pings "$GW_PORT"
}

declare -A R # results: R[<target>.<what>]

# idle_conns <target> <pid> <port>
idle_conns() {
  local t="$1" pid="$2" port="$3" out="$TMP/conns-$1.out" n
  R[$t.before]="$(rss_settled "$pid")"
  log "$t: opening $CONNS idle connections"
  : >"$out"
  "$PY" "$ROOT/bench/e2e/memory_conns.py" "$HOST" "$port" "$CONNS" >"$out" 2>"$TMP/conns-$t.err" &
  CHILD_PID=$!
  until grep -q '^ready' "$out"; do
    if ! kill -0 "$CHILD_PID" 2>/dev/null; then
      reap_child || true
      die "memory_conns.py failed against $t: $(cat "$TMP/conns-$t.err")"
    fi
    sleep 0.1
  done
  n="$(connected_clients "$port")"
  ((n >= CONNS)) || die "$t reports $n connected clients, expected at least $CONNS"
  R[$t.conns]="$(rss_settled "$pid")"
  R[$t.clients]="$n"
  kill -TERM "$CHILD_PID"
  reap_child || true
  wait_until 30 "$t" "$pid" is_idle "$port"
  R[$t.closed]="$(rss_settled "$pid")"
  R[$t.idle_hwm]="$(status_kb "$pid" VmHWM)"
  log "$t: RSS ${R[$t.before]} KB -> ${R[$t.conns]} KB with $n clients -> ${R[$t.closed]} KB closed"
}

# busy <target> <pid> <port>
busy() {
  local t="$1" pid="$2" port="$3" out="$TMP/busy-$1.csv" samples="$TMP/busy-$1.samples"
  R[$t.fresh]="$(rss_settled "$pid")"
  log "$t: redis-benchmark -c $BUSY_CLIENTS -n $BUSY_N, sampling RSS every $SAMPLE_S s"
  : >"$samples"
  redis-benchmark -h "$HOST" -p "$port" -c "$BUSY_CLIENTS" -t set,get -d 100 -r 100000 \
    -n "$BUSY_N" -e --csv >"$out" 2>>"$TMP/redis-benchmark.err" &
  CHILD_PID=$!
  while kill -0 "$CHILD_PID" 2>/dev/null; do
    status_kb "$pid" VmRSS >>"$samples"
    sleep "$SAMPLE_S"
  done
  reap_child || die "redis-benchmark failed against $t (see $TMP/redis-benchmark.err)"
  if grep -q -v '^"' "$out"; then
    grep -v '^"' "$out" | head -n 3 >&2
    die "$t answered errors during the benchmark"
  fi
  R[$t.busy_peak]="$(sort -n "$samples" | tail -n 1)"
  R[$t.busy_mean]="$(awk '{ s += $1 } END { printf "%d", s / NR }' "$samples")"
  R[$t.busy_samples]="$(wc -l <"$samples")"
  R[$t.busy_rps]="$(tail -n +2 "$out" | tr -d '"' | awk -F, '{ printf "%s%s %.0f", sep, $1, $2; sep = ", " }')"
  R[$t.after_busy]="$(rss_settled "$pid")"
  R[$t.hwm]="$(status_kb "$pid" VmHWM)"
}

# --- machine info -----------------------------------------------------------------------------
machine_block
cat <<EOF
- open-file limit: $(ulimit -n)
- parameters: CONNS=$CONNS BUSY_CLIENTS=$BUSY_CLIENTS BUSY_N=$BUSY_N SAMPLE_S=$SAMPLE_S

EOF

# --- runs ---------------------------------------------------------------------------------------
R[gateway.rest]="$(rss_settled "$GW_PID")"
R[redis.rest]="$(rss_settled "$REDIS_PID")"
R[gateway.rest_hwm]="$(status_kb "$GW_PID" VmHWM)"
R[redis.rest_hwm]="$(status_kb "$REDIS_PID" VmHWM)"
idle_conns gateway "$GW_PID" "$GW_PORT"
idle_conns redis "$REDIS_PID" "$REDIS_PORT"
log "restarting redis-server and the gateway for the load"
restart_servers
busy gateway "$GW_PID" "$GW_PORT"
busy redis "$REDIS_PID" "$REDIS_PORT"
dbsize_gw="$(redis-cli -h "$HOST" -p "$GW_PORT" DBSIZE)"
dbsize_redis="$(redis-cli -h "$HOST" -p "$REDIS_PORT" DBSIZE)"

# --- table --------------------------------------------------------------------------------------
per_conn() { awk -v a="$1" -v b="$2" -v n="$CONNS" 'BEGIN { printf "%.2f", (b - a) / n }'; }
gw_per="$(per_conn "${R[gateway.before]}" "${R[gateway.conns]}")"
redis_per="$(per_conn "${R[redis.before]}" "${R[redis.conns]}")"
met="$(awk -v x="$gw_per" -v t="$TARGET_KB" 'BEGIN { print (x <= t) ? "met" : "NOT met" }')"
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }

echo "## Results (KB; VmRSS unless said otherwise)"
echo "| measurement | redis-server | gateway |"
echo "|---|---:|---:|"
row "(a) at rest" "${R[redis.rest]}" "${R[gateway.rest]}"
row "(a) VmHWM at rest" "${R[redis.rest_hwm]}" "${R[gateway.rest_hwm]}"
row "(b) just before opening the connections" "${R[redis.before]}" "${R[gateway.before]}"
row "(b) with $CONNS idle connections" "${R[redis.conns]}" "${R[gateway.conns]}"
row "(b) **KB per idle connection**" "**$redis_per**" "**$gw_per**"
row "(b) after closing them" "${R[redis.closed]}" "${R[gateway.closed]}"
row "(b) VmHWM after (b)" "${R[redis.idle_hwm]}" "${R[gateway.idle_hwm]}"
row "(c) restarted, at rest" "${R[redis.fresh]}" "${R[gateway.fresh]}"
row "(c) $BUSY_CLIENTS busy clients: peak of ${R[redis.busy_samples]} / ${R[gateway.busy_samples]} samples" \
  "${R[redis.busy_peak]}" "${R[gateway.busy_peak]}"
row "(c) $BUSY_CLIENTS busy clients: mean of the samples" "${R[redis.busy_mean]}" "${R[gateway.busy_mean]}"
row "(c) after the load" "${R[redis.after_busy]}" "${R[gateway.after_busy]}"
row "(c) VmHWM at the end" "${R[redis.hwm]}" "${R[gateway.hwm]}"
echo
echo "- connected_clients while holding the idle connections: redis ${R[redis.clients]}, gateway ${R[gateway.clients]}"
echo "- load (requests/s): redis ${R[redis.busy_rps]}; gateway ${R[gateway.busy_rps]}"
echo "- keys after the load (DBSIZE): redis $dbsize_redis, gateway $dbsize_gw"
echo "- target: gateway at most $TARGET_KB KB per idle connection: $gw_per KB, $met" \
  "(redis-server: $redis_per KB)"
