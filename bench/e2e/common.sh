# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/common.sh: the set-up every end-to-end benchmark shares; sourced, not run.
# Expects ROOT, PY, HOST, E2E_NAME (log prefix, temp dir name), E2E_BUCKET (the gateway's
# bucket) and optionally E2E_TOOLS (extra commands that must exist) and GATEWAY_ARGS. Builds the
# Release gateway unless GATEWAY_BIN is set, then starts on loopback, with free ports and a
# fresh temp dir ($TMP): redis-server (no persistence, $REDIS_PORT), nats-server -js ($NATS_URL)
# and the gateway against it ($GW_PORT). Everything started is stopped on exit, Ctrl-C included
# (the PIDS array, and CHILD_PID for a load generator the script runs in the background).
# shellcheck shell=bash

log() { printf '%s: %s\n' "$E2E_NAME" "$*" >&2; }
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
for b in "$NATS_SERVER_BIN" "$REDIS_SERVER_BIN" redis-cli "$PY" ${E2E_TOOLS:-}; do
  command -v "$b" >/dev/null 2>&1 || die "missing $b (run scripts/deps.sh)"
done

# --- processes and cleanup -----------------------------------------------------------------------
TMP="$(mktemp -d -t "rng-$E2E_NAME.XXXXXX")"
PIDS=() # started by us, stopped in reverse order
CHILD_PID= # a foreground load generator, stopped first on exit

cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM
  if [[ -n "$CHILD_PID" ]]; then kill -TERM "$CHILD_PID" 2>/dev/null || true; fi
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
  --data-dir "$TMP/gateway" --bucket "$E2E_BUCKET" ${GATEWAY_ARGS:-} >"$TMP/gateway.log" 2>&1 &
PIDS+=($!)
wait_until 20 gateway "${PIDS[-1]}" test -s "$GW_PORT_FILE"
GW_PORT="$(head -n 1 "$GW_PORT_FILE" | tr -d '[:space:]')"
wait_until 10 gateway "${PIDS[-1]}" pings "$GW_PORT"

# Prints the "## Machine" heading and the lines every end-to-end script reports (host, server
# versions, the gateway and its flags); the caller appends its own parameters.
machine_block() {
  local commit
  commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git -C "$ROOT" diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
  cat <<EOF
## Machine
- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- kernel: $(uname -srm)
- nproc: $(nproc)
- cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
- memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
- load average at the start: $(cut -d ' ' -f 1-3 /proc/loadavg)
- nats-server: $("$NATS_SERVER_BIN" --version 2>&1 | head -n 1)
- redis-server: $("$REDIS_SERVER_BIN" --version 2>&1 | head -n 1)
- redis-benchmark: $(redis-benchmark --version 2>&1 | head -n 1)
- gateway: $GATEWAY_BIN (commit $commit), bucket $E2E_BUCKET
- gateway args: ${GATEWAY_ARGS:-<none>}
EOF
}
