#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# ./test.sh
#
# Everything CI runs, in order:
#   1. scripts/deps.sh (missing Debian packages) and ioredis and nats into tests/integration/node;
#   2. RelWithDebInfo build in build/test: ctest -L unit (-j2), then ctest -L integration;
#   3. ASan+UBSan build in build/asan: the same unit and integration tests under the sanitizers;
#   4. a short, bounded libFuzzer run of every fuzz target (tests/fuzz/run.sh, clang);
#   5. ThreadSanitizer build in build/tsan: unit tests and the C++ integration tests
#      (scripts/tsan.sh).
# Prints a summary and exits non-zero if any step failed. A failed build skips its own tests
# but the later phases still run, so one run shows everything that is broken.
#
# Environment:
#   CI=true          tests that need nats-server fail instead of skipping (RNG_REQUIRE_NATS=1).
#   JOBS             parallel build jobs (default 2).
#   RNG_TEST_ASAN=0  skip the sanitizer phase (local use only; CI always runs it).
#   RNG_TEST_FUZZ=0, RNG_TEST_TSAN=0  skip the fuzz or TSan phase (local use only, as above).
#   FUZZ_SECONDS     seconds per fuzz target (default 15 here).
#   CTEST_TIMEOUT    per-test timeout in seconds for tests without their own (default 300).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
JOBS="${JOBS:-2}"
START=$SECONDS

# --- environment for the tests ---------------------------------------------------------------
# Debian puts nats-server in /usr/sbin, which is not on every user's PATH.
NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(command -v nats-server || true)}"
[[ -z "$NATS_SERVER_BIN" && -x /usr/sbin/nats-server ]] && NATS_SERVER_BIN=/usr/sbin/nats-server
REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server || true)}"
# python3 on PATH may be a pyenv interpreter without the redis module; Debian's python3-redis
# is importable only from the system interpreter.
RNG_PYTHON="${RNG_PYTHON:-/usr/bin/python3}"
export NATS_SERVER_BIN REDIS_SERVER_BIN RNG_PYTHON
if [[ "${CI:-}" == true ]]; then
  export RNG_REQUIRE_NATS=1
fi

# --- step bookkeeping -------------------------------------------------------------------------
declare -a SUMMARY=()
FAILED=0

# step <name> <command...>: runs the command, records PASS/FAIL and the time it took.
step() {
  local name="$1" t0=$SECONDS rc=0
  shift
  printf '\n==> %s\n' "$name"
  "$@" || rc=$?
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then
    SUMMARY+=("$(printf '  PASS  %-34s %4ds' "$name" "$dt")")
  else
    SUMMARY+=("$(printf '  FAIL  %-34s %4ds  (exit %d)' "$name" "$dt" "$rc")")
    FAILED=1
  fi
  return "$rc"
}

skip() {
  SUMMARY+=("$(printf '  SKIP  %-34s        (%s)' "$1" "$2")")
}

summary() {
  if [[ -s "$FAIL_DIGEST" ]]; then
    printf '\n==================== failed tests (last lines of each) ====================\n'
    cat "$FAIL_DIGEST"
  fi
  printf '\n==================== test.sh summary ====================\n'
  printf '%s\n' "${SUMMARY[@]}"
  if [[ -s "$FAIL_DIGEST" ]]; then
    printf '  failed tests:\n'
    sed -n 's/^--- /    /p' "$FAIL_DIGEST"
  fi
  printf '  total %ds; CI=%s NATS_SERVER_BIN=%s REDIS_SERVER_BIN=%s\n' \
    $((SECONDS - START)) "${CI:-false}" "${NATS_SERVER_BIN:-<none>}" "${REDIS_SERVER_BIN:-<none>}"
  if ((FAILED)); then
    printf '  RESULT: FAILED\n'
  else
    printf '  RESULT: OK\n'
  fi
}

# --- steps -------------------------------------------------------------------------------------
install_node_deps() {
  local dir="$ROOT/tests/integration/node" stamp want have="" major
  command -v npm >/dev/null 2>&1 || { echo "npm not found" >&2; return 1; }
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if ((major < 20)); then
    echo "warning: node $(node --version 2>/dev/null) is older than ioredis requires (>= 20)" >&2
  fi
  stamp="$dir/node_modules/.rng-deps-stamp"
  want="$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  [[ -f "$stamp" ]] && have="$(cat "$stamp")"
  if [[ -d "$dir/node_modules" && "$have" == "$want" ]]; then
    echo "node_modules up to date"
    return 0
  fi
  local npm_cmd=install
  [[ -f "$dir/package-lock.json" ]] && npm_cmd=ci
  echo "npm $npm_cmd in tests/integration/node"
  (cd "$dir" && npm "$npm_cmd" --no-audit --no-fund --loglevel=error) || return 1
  # Hash again: npm install may have just written package-lock.json.
  cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1 \
    >"$stamp"
}

LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

# build <dir> <cmake args...>: configure (output kept in <dir>/configure.log) and build.
build() {
  local dir="$1"
  shift
  mkdir -p "$dir"
  if ! cmake -S "$ROOT" -B "$dir" "${LAUNCHER[@]}" "$@" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    return 1
  fi
  cmake --build "$dir" -j "$JOBS"
}

# run_tests <phase> <build dir>: unit tests in parallel, then integration tests one at a time.
# --no-tests=error: a label with no tests is a failure, not a silent pass. --timeout only applies
# to tests without their own TIMEOUT property, so one hung test cannot stall CI for 25 minutes.
TOTAL_PASSED=0
TOTAL_FAILED=0
CTEST_LOG="$(mktemp)"
FAIL_DIGEST="$(mktemp)"
trap 'rm -f "$CTEST_LOG" "$FAIL_DIGEST"' EXIT

# failure_digest <phase>: appends, for every test that failed in the last ctest run, its name and
# the last lines of its output. CI keeps only the tail of the log, so summary() prints this digest
# just above the summary: a red run then names its failing test and shows why.
failure_digest() {
  awk -v phase="$1" -v keep="${DIGEST_LINES:-40}" '
    function flush() {
      if (name == "") return
      printf "--- %s: %s\n", phase, name
      first = (n > keep) ? n - keep + 1 : 1
      if (first > 1) printf "    [... %d earlier lines]\n", first - 1
      for (i = first; i <= n; i++) print "    " buf[i]
      name = ""; n = 0
    }
    /^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
      flush()
      if ($0 ~ /\*\*\*|Failed|Not Run/ && $0 !~ /Passed/) {
        name = $0; sub(/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: /, "", name); sub(/ \.+.*/, "", name)
        name = name " (" ($0 ~ /Timeout/ ? "timeout" : "failed") ")"
      }
      next
    }
    /^ +Start +[0-9]+: / || /tests passed, [0-9]+ tests? failed/ { flush(); next }
    name != "" { buf[++n] = $0 }
    END { flush() }
  ' "$CTEST_LOG" >>"$FAIL_DIGEST"
}

# Runs ctest, echoing its output, and adds its counts to the totals printed at the end.
counted_ctest() {
  local rc=0 line total failed
  # With pipefail, a failing ctest fails the pipeline (tee itself does not fail).
  ctest "$@" 2>&1 | tee "$CTEST_LOG" || rc=$?
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$CTEST_LOG" | tail -n 1)"
  if [[ -n "$line" ]]; then
    failed="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
    total="$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")"
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    TOTAL_PASSED=$((TOTAL_PASSED + total - failed))
  elif ((rc != 0)); then
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
  fi
  ((rc == 0)) || failure_digest "$CTEST_PHASE"
  return "$rc"
}

run_tests() {
  local phase="$1" dir="$2"
  CTEST_PHASE="$phase"
  step "$phase: ctest -L unit" counted_ctest --test-dir "$dir" -L unit -j "$JOBS" \
    --output-on-failure --no-tests=error --timeout "${CTEST_TIMEOUT:-300}" || true
  step "$phase: ctest -L integration" counted_ctest --test-dir "$dir" -L integration \
    --output-on-failure --no-tests=error --timeout "${CTEST_TIMEOUT:-300}" || true
}

step "deps (apt)" "$ROOT/scripts/deps.sh" || true
step "deps (npm ioredis, nats)" install_node_deps || true

if step "build/test (RelWithDebInfo)" build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  run_tests "build/test" build/test
else
  skip "build/test: ctest" "build failed"
fi

if [[ "${RNG_TEST_ASAN:-1}" == 0 && "${CI:-}" != true ]]; then
  skip "build/asan" "RNG_TEST_ASAN=0"
else
  if step "build/asan (ASan+UBSan)" build build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRNG_SANITIZE=ON -DRNG_BUILD_BENCH=OFF; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_tests "build/asan" build/asan
  else
    skip "build/asan: ctest" "build failed"
  fi
fi

if [[ "${RNG_TEST_FUZZ:-1}" == 0 && "${CI:-}" != true ]]; then
  skip "fuzz (libFuzzer)" "RNG_TEST_FUZZ=0"
else
  FUZZ_SECONDS="${FUZZ_SECONDS:-15}" step "fuzz (libFuzzer, bounded)" "$ROOT/tests/fuzz/run.sh" ||
    true
fi

if [[ "${RNG_TEST_TSAN:-1}" == 0 && "${CI:-}" != true ]]; then
  skip "build/tsan" "RNG_TEST_TSAN=0"
else
  step "build/tsan (ThreadSanitizer)" "$ROOT/scripts/tsan.sh" || true
fi

summary
# One plain closing line over every ctest run above (CTest test cases, both builds).
printf '%d passed, %d failed\n' "$TOTAL_PASSED" "$TOTAL_FAILED"
exit "$FAILED"
