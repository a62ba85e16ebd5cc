#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# ./run.sh [gateway flags...]
#
# Installs missing Debian packages (scripts/deps.sh), builds the gateway in Release mode in
# build/release, then replaces itself with the gateway, passing every argument through.
# With no flags the gateway listens on 127.0.0.1:6379 and starts its own nats-server child
# with the store under ./data (relative to the directory you run this from).
#
# The gateway is exec'd, so Ctrl-C (SIGINT) reaches it directly and it stops its nats-server
# child itself; no wrapper process is left behind.
#
# Environment: JOBS (parallel build jobs, default nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$ROOT/build/release"
BIN="$BUILD/gateway/redis-nats-gateway"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

"$ROOT/scripts/deps.sh"

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

mkdir -p "$BUILD"
echo "run: configuring Release build in build/release" >&2
if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DRNG_BUILD_TESTS=OFF -DRNG_BUILD_BENCH=OFF "${launcher[@]}" \
  >"$BUILD/configure.log" 2>&1; then
  cat "$BUILD/configure.log" >&2
  echo "run: cmake configure failed (log: build/release/configure.log)" >&2
  exit 1
fi

echo "run: building (-j$JOBS)" >&2
if ! cmake --build "$BUILD" --target redis-nats-gateway -j "$JOBS" >"$BUILD/build.log" 2>&1; then
  tail -n 200 "$BUILD/build.log" >&2
  echo "run: build failed (full log: build/release/build.log)" >&2
  exit 1
fi
if [[ ! -x "$BIN" ]]; then
  echo "run: $BIN was not produced (is gateway/main.cc there yet?)" >&2
  exit 1
fi

# Debian installs nats-server in /usr/sbin, which is not on a normal user's PATH. The gateway
# looks for nats-server on PATH, so point it at the binary unless the caller chose a server.
extra=()
has_flag() {
  local want="$1" arg
  for arg in "${@:2}"; do
    [[ "$arg" == "$want" || "$arg" == "$want="* ]] && return 0
  done
  return 1
}
if ! has_flag --nats "$@" && ! has_flag --nats-server-bin "$@" &&
  ! command -v nats-server >/dev/null 2>&1 && [[ -x /usr/sbin/nats-server ]]; then
  extra=(--nats-server-bin /usr/sbin/nats-server)
fi

echo "run: starting $BIN ${extra[*]} $*" >&2
exec "$BIN" "${extra[@]}" "$@"
