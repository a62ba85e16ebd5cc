#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/redis-suite/run.sh: runs Redis 7.0.15's own Tcl test suite (the string units by default)
# against the gateway, in the suite's external-server mode. Run by hand; NOT part of ./test.sh
# (it downloads the Redis source and takes minutes). See README.md next to this script.
#
#   tests/redis-suite/run.sh [extra runtest flags...]      e.g. --only '/^SETRANGE'
#
# Steps:
#   1. Source: Debian's `redis` source package (7.0.15 on bookworm), fetched with
#      `apt-get source --download-only redis` into $RNG_REDIS_SRC (default build/redis-src) and
#      the upstream tarball (redis_7.0.15.orig.tar.gz) extracted there. Cached: nothing is
#      downloaded when redis-7.0.15/tests exists. A deb-src entry is written first when there is
#      none (/etc/apt/sources.list.d/rng-src.sources, same URIs and key as debian.sources; needs
#      root, else the script stops with a message); `apt-get update -qq` runs only when the
#      download fails.
#   2. tclsh 8.5+ (Debian package tcl), installed with apt-get when missing.
#   3. For each unit: a fresh nats-server -js and gateway on free loopback ports in a temp dir,
#      then `./runtest --host 127.0.0.1 --port $PORT --singledb --durable --single <unit>`. Each
#      unit gets an empty database, because the gateway has no FLUSHALL yet (see 4).
#   4. Harness patch, only for a gateway without FLUSHALL (probed before each unit; applied to a
#      copy of tests/, never to the cache): the suite's external mode sends FLUSHALL when each
#      `start_server` block begins, and an error there aborts the whole unit before its first
#      test. The call is then made non-fatal: its error is printed ("rng-suite: FLUSHALL failed
#      ...") and the unit goes on; the summary says whether the patch was applied. Tests that
#      call FLUSHALL themselves still fail. RNG_SUITE_PRISTINE=1 never patches.
#   5. Output goes to $RNG_SUITE_LOG (default build/redis-suite/<unit>.log, one per unit); the
#      summary counts [ok], [err], [exception], [skip], [ignore] and names every failing test.
#
# --durable: without it the suite stops at the first test that gets an unexpected error reply
# (an "unknown command", say), so one missing command would hide every later test.
#
# Environment (defaults in brackets):
#   GATEWAY_BIN            gateway binary [build/release/gateway/redis-nats-gateway, built if
#                          missing, as bench/e2e/run.sh does]
#   NATS_SERVER_BIN        [nats-server on PATH, else /usr/sbin/nats-server]
#   RNG_REDIS_SRC          cache of the Redis source [build/redis-src]
#   RNG_SUITE_UNITS        units to run ["unit/type/string unit/type/incr"]
#   RNG_SUITE_TAGS         runtest --tags filter ["-needs:debug -needs:repl"]; empty for none
#   RNG_SUITE_PRISTINE=1   do not patch the harness (see 4)
#   RNG_SUITE_LOG_DIR      where the logs go [build/redis-suite]
#   KEEP_TMP=1             keep the temp dirs (gateway and nats-server logs)
#
# Exit status: 0 when every test passed, 1 when any test failed or a unit raised an exception,
# 2 on a set-up problem, 77 when the source cannot be fetched without root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/redis-suite"
SRC_CACHE="${RNG_REDIS_SRC:-$ROOT/build/redis-src}"
UNITS="${RNG_SUITE_UNITS:-unit/type/string unit/type/incr}"
TAGS="${RNG_SUITE_TAGS--needs:debug -needs:repl}"
LOG_DIR="${RNG_SUITE_LOG_DIR:-$ROOT/build/redis-suite}"
REDIS_VERSION=7.0.15
HOST=127.0.0.1

log() { printf 'redis-suite: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}
can_be_root() { [[ $(id -u) -eq 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }

# --- 1. the Redis source -------------------------------------------------------------------------
SRC="$SRC_CACHE/redis-$REDIS_VERSION"
has_deb_src() {
  grep -rqsE '^[[:space:]]*Types:.*deb-src' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
    grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      2>/dev/null
}

write_deb_src() {
  # Same URIs and Signed-By as the binary entries of debian.sources.
  local main_uri=http://deb.debian.org/debian sec_uri=http://deb.debian.org/debian-security
  local key=/usr/share/keyrings/debian-archive-keyring.gpg f=/etc/apt/sources.list.d/debian.sources
  if [[ -r "$f" ]]; then
    local u
    u="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f")"
    [[ -n "$u" ]] && main_uri="$u"
    u="$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' "$f")"
    [[ -n "$u" ]] && sec_uri="$u"
    u="$(awk '/^Signed-By:/ {print $2; exit}' "$f")"
    [[ -n "$u" ]] && key="$u"
  fi
  as_root tee /etc/apt/sources.list.d/rng-src.sources >/dev/null <<EOF
# Written by tests/redis-suite/run.sh: source packages, for the Redis test suite.
Types: deb-src
URIs: $main_uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: $key

Types: deb-src
URIs: $sec_uri
Suites: bookworm-security
Components: main
Signed-By: $key
EOF
}

fetch_source() {
  mkdir -p "$SRC_CACHE"
  if ! has_deb_src; then
    if ! can_be_root; then
      log "SKIP: no deb-src entry in /etc/apt and not root: cannot fetch the Redis source."
      log "Add one (see README.md) or set RNG_REDIS_SRC to a directory holding redis-$REDIS_VERSION/."
      exit 77
    fi
    log "adding a deb-src entry: /etc/apt/sources.list.d/rng-src.sources"
    write_deb_src
  fi
  log "downloading the redis source package into $SRC_CACHE"
  if ! (cd "$SRC_CACHE" && apt-get source --download-only redis >"$SRC_CACHE/apt-source.log" 2>&1); then
    log "apt-get source failed; running apt-get update -qq and retrying"
    as_root apt-get update -qq || die "apt-get update failed (needs root)"
    (cd "$SRC_CACHE" && apt-get source --download-only redis >"$SRC_CACHE/apt-source.log" 2>&1) ||
      { cat "$SRC_CACHE/apt-source.log" >&2; die "apt-get source --download-only redis failed"; }
  fi
  local tarball="$SRC_CACHE/redis_$REDIS_VERSION.orig.tar.gz"
  [[ -f "$tarball" ]] ||
    die "expected $tarball (Debian's redis source is not $REDIS_VERSION here?): $(ls "$SRC_CACHE")"
  # The upstream tarball, not the Debian-patched tree: the tests as Redis ships them.
  tar -xzf "$tarball" -C "$SRC_CACHE"
}

if [[ ! -x "$SRC/runtest" || ! -d "$SRC/tests/unit" ]]; then
  fetch_source
fi
[[ -x "$SRC/runtest" ]] || die "no runtest in $SRC"

# --- 2. tclsh ----------------------------------------------------------------------------------------
have_tclsh() { command -v tclsh8.5 >/dev/null 2>&1 || command -v tclsh8.6 >/dev/null 2>&1 ||
  command -v tclsh8.7 >/dev/null 2>&1; }
if ! have_tclsh; then
  log "installing tcl (tclsh is missing)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null ||
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null; } ||
    die "tclsh 8.5+ is missing and tcl could not be installed (needs root)"
fi

# --- binaries --------------------------------------------------------------------------------------
if [[ -z "${GATEWAY_BIN:-}" ]]; then
  GATEWAY_BIN="$ROOT/build/release/gateway/redis-nats-gateway"
  if [[ ! -x "$GATEWAY_BIN" ]]; then
    BUILD="$ROOT/build/release"
    mkdir -p "$BUILD"
    log "building the gateway (Release, build/release)"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRNG_BUILD_TESTS=OFF \
      -DRNG_BUILD_BENCH=OFF >"$BUILD/configure.log" 2>&1 ||
      { cat "$BUILD/configure.log" >&2; die "cmake configure failed"; }
    cmake --build "$BUILD" --target redis-nats-gateway -j "$(nproc)" >"$BUILD/build.log" 2>&1 ||
      { tail -n 100 "$BUILD/build.log" >&2; die "build failed (build/release/build.log)"; }
  fi
fi
[[ -x "$GATEWAY_BIN" ]] || die "gateway binary not found: $GATEWAY_BIN"
NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
[[ -x "$NATS_SERVER_BIN" ]] || die "nats-server not found (set NATS_SERVER_BIN)"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (Debian package redis-tools)"

# --- processes and cleanup ---------------------------------------------------------------------------
TMP="$(mktemp -d -t rng-redis-suite.XXXXXX)"
PIDS=()
RUNTEST_PID=

stop_pids() {
  local i pid
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
  PIDS=()
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # runtest runs in its own process group (set -m below): stop it and its test client.
  [[ -n "$RUNTEST_PID" ]] && kill -TERM -- "-$RUNTEST_PID" 2>/dev/null
  stop_pids
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

wait_until() {
  local deadline=$((SECONDS + $1)) what="$2" pid="$3"
  shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what exited during start-up (logs in $TMP; KEEP_TMP=1 keeps them)"
    ((SECONDS < deadline)) || die "$what not ready within the deadline (logs in $TMP)"
    sleep 0.05
  done
}
pings() { [[ "$(redis-cli -h "$HOST" -p "$1" PING 2>/dev/null)" == PONG ]]; }

# start_stack <dir>: nats-server + gateway; sets GW_PORT.
start_stack() {
  local dir="$1"
  mkdir -p "$dir/nats"
  "$NATS_SERVER_BIN" -a "$HOST" -p -1 -js -sd "$dir/nats/js" --ports_file_dir "$dir/nats" \
    >"$dir/nats.log" 2>&1 &
  local nats_pid=$!
  PIDS+=("$nats_pid")
  local ports="$dir/nats/nats-server_$nats_pid.ports"
  wait_until 10 nats-server "$nats_pid" test -s "$ports"
  local url
  url="$(sed -E 's/.*"nats":\["([^"]+)".*/\1/' "$ports")"
  [[ "$url" == nats://127.0.0.1:* ]] || die "unexpected nats-server ports file: $(cat "$ports")"
  "$GATEWAY_BIN" --bind "$HOST" --port 0 --port-file "$dir/gateway.port" --nats "$url" \
    --data-dir "$dir/gateway" --bucket suite >"$dir/gateway.log" 2>&1 &
  PIDS+=($!)
  wait_until 20 gateway "${PIDS[-1]}" test -s "$dir/gateway.port"
  GW_PORT="$(head -n 1 "$dir/gateway.port" | tr -d '[:space:]')"
  wait_until 10 gateway "${PIDS[-1]}" pings "$GW_PORT"
}

# --- the suite, on a copy of the tests --------------------------------------------------------------
WORK="$TMP/redis"
mkdir -p "$WORK"
cp -a "$SRC/runtest" "$SRC/tests" "$WORK/"
# Some helpers look for src/ (redis-cli, redis-benchmark); the string units do not need them.
mkdir -p "$WORK/src"
ln -sf "$(command -v redis-cli)" "$WORK/src/redis-cli"
PATCHED=0
# patch_flushall_if_missing <port>: see step 4 of the header.
patch_flushall_if_missing() {
  [[ "${RNG_SUITE_PRISTINE:-0}" == 1 || $PATCHED == 1 ]] && return 0
  local reply
  reply="$(redis-cli -h "$HOST" -p "$1" FLUSHALL 2>&1 || true)"
  [[ "$reply" == *"unknown command"* ]] || return 0
  local server_tcl="$WORK/tests/support/server.tcl"
  grep -q '^    r flushall$' "$server_tcl" || die "harness changed: no 'r flushall' line in server.tcl"
  # shellcheck disable=SC2016 # Tcl code: $rng_err is expanded by Tcl, not the shell
  sed -i 's/^    r flushall$/    if {[catch {r flushall} rng_err]} { puts "rng-suite: FLUSHALL failed at server start (non-fatal): $rng_err" }/' \
    "$server_tcl"
  PATCHED=1
  log "the gateway has no FLUSHALL: made start_server's FLUSHALL non-fatal (RNG_SUITE_PRISTINE=1 to run unpatched)"
}
SKIP_ARGS=()
if grep -qvE '^[[:space:]]*(#|$)' "$HERE/skiplist.txt" 2>/dev/null; then
  grep -vE '^[[:space:]]*(#|$)' "$HERE/skiplist.txt" >"$TMP/skiplist"
  SKIP_ARGS=(--skipfile "$TMP/skiplist")
fi
TAG_ARGS=()
[[ -n "$TAGS" ]] && TAG_ARGS=(--tags "$TAGS")

mkdir -p "$LOG_DIR"
strip_colors() { sed -E 's/\x1b\[[0-9;]*m//g'; }

total_ok=0 total_err=0 total_exc=0 total_skip=0 total_ignore=0
failures=()
unit_status=()
for unit in $UNITS; do
  name="${unit//\//_}"
  logf="$LOG_DIR/$name.log"
  start_stack "$TMP/$name"
  patch_flushall_if_missing "$GW_PORT"
  log "running $unit against the gateway on port $GW_PORT (log: $logf)"
  set +e
  set -m
  (cd "$WORK" && exec ./runtest --host "$HOST" --port "$GW_PORT" --singledb --durable \
    --clients 1 --timeout 1200 "${TAG_ARGS[@]}" "${SKIP_ARGS[@]}" --single "$unit" "$@") \
    >"$TMP/$name.raw" 2>&1 &
  RUNTEST_PID=$!
  set +m
  wait "$RUNTEST_PID"
  rc=$?
  RUNTEST_PID=
  set -e
  {
    echo "# $unit: runtest exit $rc; gateway $GATEWAY_BIN; harness patched: $PATCHED"
    strip_colors <"$TMP/$name.raw"
  } >"$logf"
  stop_pids
  cp "$TMP/$name/gateway.log" "$LOG_DIR/$name.gateway.log" 2>/dev/null || true

  ok=$(grep -c '^\[ok\]:' "$logf" || true)
  err=$(grep -c '^\[err\]:' "$logf" || true)
  exc=$(grep -c '^\[exception\]:' "$logf" || true)
  skip=$(grep -c '^\[skip\]:' "$logf" || true)
  ignore=$(grep -c '^\[ignore\]:' "$logf" || true)
  total_ok=$((total_ok + ok)) total_err=$((total_err + err)) total_exc=$((total_exc + exc))
  total_skip=$((total_skip + skip)) total_ignore=$((total_ignore + ignore))
  unit_status+=("$(printf '%-22s ok %4d  err %4d  exception %d  skip %d  ignore %d  (runtest exit %d)' \
    "$unit" "$ok" "$err" "$exc" "$skip" "$ignore" "$rc")")
  while IFS= read -r line; do
    failures+=("$unit: $line")
  done < <(grep -E '^\[(err|exception)\]:' "$logf" | sed -E 's/^\[(err|exception)\]: /[\1] /')
done

# --- summary ---------------------------------------------------------------------------------------------
echo
echo "== Redis $REDIS_VERSION test suite against the gateway =="
echo "gateway: $GATEWAY_BIN"
echo "tags: ${TAGS:-<none>}; harness patch (FLUSHALL non-fatal): $([[ $PATCHED == 1 ]] && echo yes || echo no)"
for s in "${unit_status[@]}"; do echo "  $s"; done
echo "total: [ok] $total_ok  [err] $total_err  [exception] $total_exc  [skip] $total_skip  [ignore] $total_ignore"
if ((${#failures[@]})); then
  echo "failing tests:"
  for f in "${failures[@]}"; do echo "  $f"; done
fi
echo "logs: $LOG_DIR"
((total_err == 0 && total_exc == 0))
