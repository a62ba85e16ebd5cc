#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# scripts/tsan.sh
#
# ThreadSanitizer phase: builds build/tsan (-DRNG_TSAN=ON, RelWithDebInfo, no benchmarks) and
# runs the tests with every test binary and every gateway they start instrumented. The gateway's
# threads meet on the libuv loop: nats.c threads and the NatsKvBackend manager thread (used
# with --nats-client natsc) hand their results to the loop through LoopExecutor.
#
# Two modes:
#   TSAN_SUBSET=1 (default)  builds only the gateway and gateway_integration_test and runs the
#                            C++ integration tests: every GoogleTest case of that binary, among
#                            them the natsc-focused NatscThreads.* and */*.natsc cases. Fits
#                            next to test.sh in CI's time budget.
#   TSAN_SUBSET=0            builds everything; runs the unit tests (each binary once) and all of
#                            ctest -L integration, the Python and Node.js client scripts
#                            included (their gateways are TSan builds too, found through
#                            GATEWAY_BIN), except pubsub_slow_subscriber: it bounds the
#                            gateway's RSS, and TSan's shadow memory alone exceeds that bound.
# The unit tests start no threads of their own, so the subset leaves them (and the half of the
# build they are) to the other phases.
#
# How a race fails the run. TSAN_OPTIONS (below; extend it with TSAN_EXTRA_OPTIONS) sends every
# report to a file under <build>/tsan-reports and makes the reporting process exit 66 at once
# (halt_on_error). A test binary that reports fails its ctest case; a gateway that reports dies,
# and its test sees the dead connection or the non-zero exit status at teardown. Because a
# gateway may also be killed on purpose or started by a script that does not check its status,
# the report files are the final word: any file there fails the run, and each is printed.
#
# tests/tsan.supp holds the suppressions, only for races inside third-party libraries (each
# with its reason). libuv and nats.c come from Debian and are not instrumented: their accesses
# are invisible to TSan, and their pthread mutexes and condition variables (which TSan
# intercepts) are the synchronisation it sees.
#
# Environment: JOBS (build jobs, default 2), CTEST_TIMEOUT (default 300 s per test without its
# own), NATS_SERVER_BIN / REDIS_SERVER_BIN / RNG_PYTHON as for test.sh, CI=true (tests that
# need nats-server fail instead of skipping). Exits non-zero if the build, any test, or any
# TSan report failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${TSAN_BUILD_DIR:-$ROOT/build/tsan}"
JOBS="${JOBS:-2}"
SUBSET="${TSAN_SUBSET:-1}"
START=$SECONDS

NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(command -v nats-server || true)}"
[[ -z "$NATS_SERVER_BIN" && -x /usr/sbin/nats-server ]] && NATS_SERVER_BIN=/usr/sbin/nats-server
REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server || true)}"
RNG_PYTHON="${RNG_PYTHON:-/usr/bin/python3}"
export NATS_SERVER_BIN REDIS_SERVER_BIN RNG_PYTHON
if [[ "${CI:-}" == true ]]; then
  export RNG_REQUIRE_NATS=1
fi

# --- build ------------------------------------------------------------------------------------
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
printf '==> build %s (ThreadSanitizer)\n' "$BUILD"
mkdir -p "$BUILD"
if ! cmake -S "$ROOT" -B "$BUILD" "${LAUNCHER[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRNG_TSAN=ON -DRNG_BUILD_BENCH=OFF >"$BUILD/configure.log" 2>&1; then
  cat "$BUILD/configure.log" >&2
  exit 1
fi
if [[ "$SUBSET" == 0 ]]; then
  cmake --build "$BUILD" -j "$JOBS"
else
  cmake --build "$BUILD" -j "$JOBS" --target redis-nats-gateway gateway_integration_test
fi
BUILD_S=$((SECONDS - START))

# --- TSan runtime options -----------------------------------------------------------------------
REPORTS="$BUILD/tsan-reports"
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
# log_path: reports go to <REPORTS>/report.<pid>, one file per reporting process (so the list
# of matched suppressions stays off: it would land there too). second_deadlock_stack: both
# stacks of a lock-order inversion.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 print_suppressions=0"
TSAN_OPTIONS+=" suppressions=$ROOT/tests/tsan.supp"
TSAN_OPTIONS+=" log_path=$REPORTS/report ${TSAN_EXTRA_OPTIONS:-}"
export TSAN_OPTIONS

# --- tests --------------------------------------------------------------------------------------
FAILED=0
declare -a SUMMARY=()
CTEST_LOG="$(mktemp)"
trap 'rm -f "$CTEST_LOG"' EXIT

# run <name> <ctest args...>: one ctest run, its result and counts in the summary.
run() {
  local name="$1" t0=$SECONDS rc=0 counts
  shift
  printf '\n==> tsan: %s\n' "$name"
  ctest --test-dir "$BUILD" --output-on-failure --no-tests=error \
    --timeout "${CTEST_TIMEOUT:-300}" "$@" 2>&1 | tee "$CTEST_LOG" || rc=$?
  counts="$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$CTEST_LOG" | tail -n 1 || true)"
  SUMMARY+=("$(printf '  %s  %-34s %4ds  %s' "$( ((rc == 0)) && echo PASS || echo FAIL)" \
    "$name" $((SECONDS - t0)) "${counts:-no count}")")
  ((rc == 0)) || FAILED=1
}

# Unit tests: each GoogleTest binary that ctest -L unit lists, run once with all its cases,
# instead of one process per case: a TSan process is slow to start (133 s against 10 s here for
# ~1,570 cases), and the unit tests start no threads of their own.
run_unit_binaries() {
  local name="ctest -L unit (per binary)" t0=$SECONDS rc=0 bin passed=0 failed=0 n
  local -a bins=()
  printf '\n==> tsan: %s\n' "$name"
  mapfile -t bins < <(ctest --test-dir "$BUILD" -L unit --show-only=json-v1 | "$RNG_PYTHON" -c '
import json, sys
seen = []
for test in json.load(sys.stdin)["tests"]:
    if test["command"][0] not in seen:
        seen.append(test["command"][0])
print("\n".join(seen))')
  if ((${#bins[@]} == 0)); then
    echo "no unit test binaries found" >&2
    rc=1
  fi
  for bin in "${bins[@]}"; do
    printf '%s\n' "$bin"
    # --gtest_brief: only failures and the totals are printed.
    "$bin" --gtest_brief=1 >"$CTEST_LOG" 2>&1 || rc=1
    cat "$CTEST_LOG"
    n="$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' "$CTEST_LOG")"
    passed=$((passed + ${n:-0}))
    n="$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' "$CTEST_LOG")"
    failed=$((failed + ${n:-0}))
  done
  SUMMARY+=("$(printf '  %s  %-34s %4ds  %d passed, %d failed' \
    "$( ((rc == 0)) && echo PASS || echo FAIL)" "$name" $((SECONDS - t0)) "$passed" "$failed")")
  ((rc == 0)) || FAILED=1
}

if [[ "$SUBSET" == 0 ]]; then
  run_unit_binaries
  run "ctest -L integration" -L integration -E '^pubsub_slow_subscriber$'
else
  # The GoogleTest cases are registered as <Suite>.<Test>; the script tests' names have no dot.
  run "ctest -L integration (C++ only)" -L integration -R '\.'
fi

# --- reports ------------------------------------------------------------------------------------
shopt -s nullglob
reports=("$REPORTS"/report.*)
if ((${#reports[@]} > 0)); then
  FAILED=1
  for f in "${reports[@]}"; do
    printf '\n==== ThreadSanitizer report %s ====\n' "$f"
    cat "$f"
  done
fi

printf '\n==================== tsan.sh summary ====================\n'
printf '  build %ds; mode %s\n' "$BUILD_S" "$([[ "$SUBSET" == 0 ]] && echo full || echo subset)"
printf '%s\n' "${SUMMARY[@]}"
printf '  ThreadSanitizer report files: %d (in %s)\n' "${#reports[@]}" "$REPORTS"
printf '  total %ds; RESULT: %s\n' $((SECONDS - START)) "$( ((FAILED)) && echo FAILED || echo OK)"
exit "$FAILED"
