#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the libFuzzer targets (build/fuzz, clang 14, ASan + UBSan) and runs each one for a
# bounded time over a copy of its seed corpus. Exits non-zero when any target finds a crash, a
# sanitizer report, a leak, a timeout or an out-of-memory, and prints the reproducer's path and
# the command that replays it. docs/fuzzing.md describes the targets.
#
#   tests/fuzz/run.sh                    # every target, FUZZ_SECONDS (20) each
#   FUZZ_SECONDS=300 tests/fuzz/run.sh   # longer
#   FUZZ_RUNS=10000000 tests/fuzz/run.sh # exactly N executions per target instead of a time
#   FUZZ_TARGETS="dispatch" tests/fuzz/run.sh
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 20); ignored when FUZZ_RUNS is set
#   FUZZ_RUNS     executions per target (libFuzzer -runs)
#   FUZZ_TARGETS  space-separated subset of: request_parser reply_writer reply_parser key_codec
#                 dispatch
#   FUZZ_JOBS     targets run at the same time (default: the number of CPUs, at most 2)
#   FUZZ_WORKDIR  where the corpus copies, logs and findings go (default: a new temp dir,
#                 removed after a clean run, kept when something was found)
#   FUZZ_NO_BUILD=1  use the targets already in build/fuzz
#   FUZZ_ARGS     more libFuzzer flags for every target (e.g. "-entropic=0" for long runs)
#   ASAN_OPTIONS, UBSAN_OPTIONS  passed on (run.sh adds detect_leaks=1, halt_on_error=1)
#
# Findings never go into the repository: libFuzzer writes new inputs into the copy of the
# corpus and reproducers into FUZZ_WORKDIR (-artifact_prefix).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build/fuzz"
FUZZ_DIR="$ROOT/tests/fuzz"
TARGETS=(${FUZZ_TARGETS:-request_parser reply_writer reply_parser key_codec dispatch})
SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
RUNS="${FUZZ_RUNS:-}"
cpus="$(nproc 2>/dev/null || echo 1)"
JOBS="${FUZZ_JOBS:-$((cpus < 2 ? cpus : 2))}"

log() { printf 'fuzz: %s\n' "$*"; }

# Longest input per target: enough for a pipeline of commands (dispatch), a few requests
# (request_parser) or a few hundred values (reply_writer); longer inputs only make each run
# slower.
max_len() {
  case "$1" in
    key_codec) echo 512 ;;
    reply_writer) echo 1024 ;;
    request_parser) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

start=$(date +%s)

# --- toolchain -------------------------------------------------------------------------------
if [[ "${FUZZ_NO_BUILD:-0}" != 1 ]]; then
  # The project's own packages (libuv, libnats, cmake, ...), then clang 14 and its runtime
  # libraries (libFuzzer ships in libclang-rt-14-dev, which clang-14 only recommends).
  bash "$ROOT/scripts/deps.sh"
  if ! command -v clang++-14 >/dev/null 2>&1 ||
      ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    log "installing clang-14 and libclang-rt-14-dev"
    SUDO=()
    [[ "$(id -u)" != 0 ]] && SUDO=(sudo)
    if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends clang-14 libclang-rt-14-dev >/tmp/fuzz-apt.log 2>&1; then
      "${SUDO[@]}" apt-get update -q >>/tmp/fuzz-apt.log 2>&1 || true
      "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends clang-14 libclang-rt-14-dev >>/tmp/fuzz-apt.log 2>&1 || {
        cat /tmp/fuzz-apt.log
        log "could not install clang-14"
        exit 1
      }
    fi
  fi

  # --- build ---------------------------------------------------------------------------------
  mkdir -p "$BUILD"
  # Configured every time (cheap once the cache exists), so a target added since the tree was
  # first configured is known to it.
  log "configuring $BUILD"
  CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRNG_FUZZ=ON -DRNG_BUILD_TESTS=OFF -DRNG_BUILD_BENCH=OFF \
    >"$BUILD/fuzz-configure.log" 2>&1 || {
    cat "$BUILD/fuzz-configure.log"
    exit 1
  }
  log "building ${TARGETS[*]}"
  build_targets=()
  for t in "${TARGETS[@]}"; do build_targets+=("${t}_fuzz"); done
  if ! cmake --build "$BUILD" -j"$cpus" --target "${build_targets[@]}" \
      >"$BUILD/fuzz-build.log" 2>&1; then
    tail -50 "$BUILD/fuzz-build.log"
    log "build failed (full log: $BUILD/fuzz-build.log)"
    exit 1
  fi
fi
built=$(date +%s)

# --- run -------------------------------------------------------------------------------------
WORK="${FUZZ_WORKDIR:-$(mktemp -d /tmp/rng-fuzz.XXXXXX)}"
mkdir -p "$WORK"
if [[ -n "$RUNS" ]]; then
  budget=(-runs="$RUNS")
  log "running ${TARGETS[*]} for $RUNS executions each, $JOBS at a time, in $WORK"
else
  budget=(-max_total_time="$SECONDS_PER_TARGET")
  log "running ${TARGETS[*]} for ${SECONDS_PER_TARGET}s each, $JOBS at a time, in $WORK"
fi

# Runs one target; its exit status is libFuzzer's. Output goes to $WORK/<target>.log.
run_target() {
  local t="$1"
  local bin="$BUILD/tests/fuzz/${t}_fuzz"
  local corpus="$WORK/corpus/$t"
  mkdir -p "$corpus" "$WORK/artifacts/$t"
  cp "$FUZZ_DIR/corpus/$t/"* "$corpus/"
  local dict=()
  [[ -f "$FUZZ_DIR/dict/$t.dict" ]] && dict=(-dict="$FUZZ_DIR/dict/$t.dict")
  # -timeout: one input taking 10 s is a hang. -rss_limit_mb/-malloc_limit_mb: 2 GB.
  # Leak detection is on by default under ASan.
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:abort_on_error=0:detect_leaks=1" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:print_stacktrace=1:halt_on_error=1" \
    "$bin" "${budget[@]}" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$t/" "${dict[@]}" \
      ${FUZZ_ARGS:-} "$corpus" >"$WORK/$t.log" 2>&1
}

declare -A pid_of status_of
running=()
for t in "${TARGETS[@]}"; do
  while ((${#running[@]} >= JOBS)); do
    wait -n || true
    still=()
    for r in "${running[@]}"; do kill -0 "${pid_of[$r]}" 2>/dev/null && still+=("$r"); done
    running=("${still[@]}")
  done
  run_target "$t" &
  pid_of[$t]=$!
  running+=("$t")
done
for t in "${TARGETS[@]}"; do
  if wait "${pid_of[$t]}"; then status_of[$t]=0; else status_of[$t]=$?; fi
done

# --- report ----------------------------------------------------------------------------------
failed=0
for t in "${TARGETS[@]}"; do
  logf="$WORK/$t.log"
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$logf" | awk '{print $2}' || true)
  last=$(grep -E '^#[0-9]+' "$logf" | tail -1 || true)
  secs=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  findings=$(find "$WORK/artifacts/$t" -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null || true)
  if [[ "${status_of[$t]}" == 0 && -z "$findings" ]]; then
    log "$t: ok, ${runs:-?} runs, ${secs:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    continue
  fi
  failed=1
  log "$t: FAILED (libFuzzer exit ${status_of[$t]}), log: $logf"
  { grep -E 'ERROR: |FUZZ_CHECK|SUMMARY:|runtime error|error in line' "$logf" ||
      tail -5 "$logf"; } | head -8 | sed 's/^/    /'
  for f in $findings; do
    log "  reproducer: $f"
    log "  replay:     $BUILD/tests/fuzz/${t}_fuzz $f"
  done
done

end=$(date +%s)
log "build $((built - start))s, fuzzing $((end - built))s, total $((end - start))s"
if ((failed)); then
  log "findings kept in $WORK"
  exit 1
fi
[[ -z "${FUZZ_WORKDIR:-}" ]] && rm -rf "$WORK"
exit 0
