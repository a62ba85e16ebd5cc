#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs the Debian 12 packages needed to build, test and benchmark the gateway.
# Shared by run.sh, test.sh and bench/e2e/run.sh.
#
# - Idempotent: each package is checked with dpkg-query first. When nothing is missing the
#   script prints nothing and returns at once (no apt-get update, no network).
# - Quiet: one line per step; apt output goes to a log that is shown only on failure.
# - Never leaves a packaged service running: while installing, a policy-rc.d that exits 101
#   stops maintainer scripts from starting services. If a redis-server or nats-server that this
#   run installed is running anyway (as the package's own user), it is stopped and its unit
#   disabled, so nothing of ours holds 127.0.0.1:6379 or :4222.
# - Runs as root, or through sudo when it is available.
#
# Environment: DEPS_VERBOSE=1 prints the "nothing to do" line too.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libuv1-dev libnats-dev libssl-dev openssl nats-server libhiredis-dev
  redis-server redis-tools python3-redis
  libgtest-dev libgmock-dev googletest libbenchmark-dev
)
# Node.js may come from elsewhere (NodeSource ships its own nodejs with npm bundled, which
# conflicts with Debian's npm package), so only ask apt for it when it is absent.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

log() { printf 'deps: %s\n' "$*"; }

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  [[ "${DEPS_VERBOSE:-0}" == 1 ]] && log "all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    log "missing packages: ${missing[*]}" >&2
    log "not root and sudo is not available; install them as root and rerun" >&2
    exit 1
  fi
fi
as_root() { "${SUDO[@]}" "$@"; }

APT_LOG="$(mktemp -t rng-deps.XXXXXX.log)"
POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if ((created_policy)); then as_root rm -f "$POLICY" || true; fi
  rm -f "$APT_LOG"
}
trap cleanup EXIT

fail() {
  log "$1 failed; last lines of the apt log:" >&2
  tail -n 40 "$APT_LOG" >&2 || true
  exit 1
}

# Keep maintainer scripts from starting services (invoke-rc.d and deb-systemd-invoke honour
# this). An existing policy-rc.d (common in containers) is left untouched.
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\n# Temporary, from redis-nats-gateway scripts/deps.sh\nexit 101\n' |
    as_root tee "$POLICY" >/dev/null
  as_root chmod 0755 "$POLICY"
  created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$APT_LOG" 2>&1 ||
  fail "apt-get update"

log "installing ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Use-Pty=0 "${missing[@]}" >>"$APT_LOG" 2>&1 || fail "apt-get install"

# pids of processes named $1 running as user $2, found through /proc (procps may be absent).
pids_of() {
  local name="$1" user="$2" uid dir
  uid="$(id -u "$user" 2>/dev/null)" || return 0
  for dir in /proc/[0-9]*; do
    [[ "$(cat "$dir/comm" 2>/dev/null)" == "$name" ]] || continue
    [[ "$(stat -c %u "$dir" 2>/dev/null)" == "$uid" ]] || continue
    echo "${dir#/proc/}"
  done
}

# stop_packaged_service <package> <service> <process name> <user>
stop_packaged_service() {
  local pkg="$1" service="$2" name="$3" user="$4" pids
  [[ " ${missing[*]} " == *" $pkg "* ]] || return 0
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-enabled --quiet "$service" 2>/dev/null ||
      systemctl is-active --quiet "$service" 2>/dev/null; then
      log "disabling the packaged $service service"
      as_root systemctl disable --now --quiet "$service" >/dev/null 2>&1 || true
    fi
  fi
  pids="$(pids_of "$name" "$user")"
  if [[ -n "$pids" ]]; then
    log "stopping the packaged $name (pid $(echo $pids))"
    # shellcheck disable=SC2086  # one pid per word
    as_root kill $pids 2>/dev/null || true
    for _ in $(seq 50); do
      [[ -z "$(pids_of "$name" "$user")" ]] && break
      sleep 0.1
    done
  fi
}
stop_packaged_service redis-server redis-server redis-server redis
stop_packaged_service nats-server nats-server nats-server nats

log "done"
