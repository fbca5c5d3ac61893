#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, ASan + UBSan, clang-14) into build-fuzz and runs each one for
# SECONDS (default 30) on a scratch copy of its committed seed corpus, so the tree stays clean.
#   scripts/fuzz.sh                 every target, 30 s each
#   scripts/fuzz.sh 15              every target, 15 s each (CI)
#   scripts/fuzz.sh 600 records     only the named targets
# Prints executions and executions per second per target. Exits non-zero when any target crashes, leaks,
# times out or fails a property, and prints the path of the input that did it (build-fuzz/artifacts/<name>/).
# Re-run one input:  build-fuzz/<name>_fuzz <file>.   Environment: IH_FUZZ_BUILD_DIR (default build-fuzz),
# IH_JOBS (build parallelism, default 2), IH_FUZZ_ARGS (extra libFuzzer flags), IH_FUZZ_RUNS (stop a target
# after this many executions, or SECONDS, whichever comes first), IH_FUZZ_NO_BUILD=1 (use the built targets
# as they are: for several runs in parallel on one build directory). The long runs of docs/security.md:
#   IH_FUZZ_NO_BUILD=1 IH_FUZZ_RUNS=10000000 nice -n 10 scripts/fuzz.sh 14400 text router ...
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-30}
shift || true
if ! [[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || [ "$SECONDS_EACH" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
BUILD_DIR=${IH_FUZZ_BUILD_DIR:-build-fuzz}
start_time=$(date +%s)

if [ "${IH_FUZZ_NO_BUILD:-0}" != 1 ]; then
  # clang-14 and its runtime (libFuzzer, sanitizers): Debian packages, installed when missing. The rest of the
  # build needs what scripts/setup.sh installs.
  scripts/setup.sh --fuzz-deps
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DIH_FUZZ=ON -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
  fi
  nice cmake --build "$BUILD_DIR" -j"${IH_JOBS:-2}"
fi
build_done=$(date +%s)
echo "fuzz: build took $((build_done - start_time)) s"

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < "$BUILD_DIR/fuzzers.txt"
fi

run_dir="$BUILD_DIR/run"
artifacts="$BUILD_DIR/artifacts"
mkdir -p "$run_dir" "$artifacts"
failed=()
summary=()
for name in "${targets[@]}"; do
  [ -n "$name" ] || continue
  binary="$BUILD_DIR/${name}_fuzz"
  if [ ! -x "$binary" ]; then
    echo "fuzz: no target $name (known: $(tr '\n' ' ' < "$BUILD_DIR/fuzzers.txt"))" >&2
    exit 2
  fi
  corpus="$run_dir/$name"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts/$name"
  if [ -d "tests/fuzz/corpus/$name" ]; then
    cp -r "tests/fuzz/corpus/$name/." "$corpus/"
  fi
  args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/$name/")
  [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
  [ -n "${IH_FUZZ_RUNS:-}" ] && args+=(-runs="$IH_FUZZ_RUNS")
  # shellcheck disable=SC2206
  args+=(${IH_FUZZ_ARGS:-})
  log="$run_dir/$name.log"
  echo "fuzz: $name for ${SECONDS_EACH} s ..."
  status=0
  target_start=$(date +%s)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$binary" "${args[@]}" "$corpus" > "$log" 2>&1 || status=$?
  took=$(( $(date +%s) - target_start ))
  # `|| true`: a target that fails while loading its corpus prints no stats (pipefail would end the script).
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
  cov=$( (grep -oE 'cov: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
  units=$(find "$corpus" -type f | wc -l)
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $status); last lines of $log:"
    grep -E 'ERROR|FUZZ PROPERTY|SUMMARY|runtime error|Test unit written|==[0-9]+==' "$log" | head -20 || true
    tail -5 "$log"
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1 || true)
    echo "fuzz: $name crashing input: ${input:-see $log}"
    echo "fuzz: reproduce with: $binary ${input:-<input>}"
    failed+=("$name")
    summary+=("$(printf '%-18s %12s %9s %7s %7s %7s  FAILED %s' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units" "$took" "${input:-}")")
  else
    summary+=("$(printf '%-18s %12s %9s %7s %7s %7s  ok' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units" "$took")")
  fi
done

echo
printf '%-18s %12s %9s %7s %7s %7s  %s\n' target execs execs/s cov corpus seconds result
printf '%s\n' "${summary[@]}"
echo "fuzz: total $(( $(date +%s) - start_time )) s (build $((build_done - start_time)) s), ${SECONDS_EACH} s per target"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash, leak, timeout or property failure"
