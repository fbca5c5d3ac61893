#!/usr/bin/env bash
# The sanitizer lane (run by .ci/run after scripts/test.sh). Two builds, each into its own directory:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) over the whole tree, no benchmarks: host
#         and plugins at -O1 -g1 with every check, the test harness with ASan at -O0 (see the IH_SANITIZE block
#         of CMakeLists.txt). Runs every ctest case (unit, integration, plugin unit tests, SDK, JS verification,
#         browser) except sdk_out_of_tree, which builds the example plugin on its own without sanitizers, and
#         postgres_test_integration and postgres_test_hostile (those suites again on PostgreSQL: the store's
#         PostgreSQL code runs under ASan in the unit lanes postgres_test_unit_*; both suites twice would not fit
#         CI's budget).
#   tsan  ThreadSanitizer over only the test binaries of the concurrent parts (see TSAN_TARGETS), and runs them.
# Any sanitizer report fails the test it happens in, including reports of the processes a test starts (`ihost`
# children: tests/catch_main.cpp collects them; the browser test checks ihost's exit status), and so fails this
# script. Wall and CPU time of each phase are printed at the end (docs/security.md, "Sanitizers").
#   scripts/sanitize.sh                 both lanes
#   scripts/sanitize.sh asan|tsan       one lane
#   scripts/sanitize.sh tsan -R store   extra arguments go to ctest
# Environment: IH_JOBS (parallel jobs, default 2), IH_ASAN_BUILD_DIR (build-asan), IH_TSAN_BUILD_DIR (build-tsan).
set -euo pipefail
cd "$(dirname "$0")/.."

lanes=(asan tsan)
if [ "${1:-}" = asan ] || [ "${1:-}" = tsan ]; then
  lanes=("$1")
  shift
fi
jobs=${IH_JOBS:-2}
asan_dir=${IH_ASAN_BUILD_DIR:-build-asan}
tsan_dir=${IH_TSAN_BUILD_DIR:-build-tsan}

# The test binaries built and run under ThreadSanitizer: the parts where threads meet. The store's writer thread,
# group commit and checkpointer, the inbox store's claims and the scheduler's leases; the HTTP server's io threads,
# worker pool, async handlers and pushed streams; the events hub and its subscribers; the call gate's serialization
# and drain (real fixture plugins); rate budgets and the outbound client; metrics updated from many threads; the
# vault shared by workers. The integration suite is
# left out: building it (with the plugins and the Stripe double) under TSan would cost more than the 45-minute CI
# allows on 2 cores.
TSAN_TARGETS=(test_unit_store test_unit_http test_unit_events test_unit_runtime test_unit_metrics
  test_unit_vault test_unit_outbound test_unit_tenancy)

# ASan findings that someone is fixing, by ctest name: run apart and printed, but they do not fail the lane until
# the fix lands (then they pass and the lane asks for the entry to go). Never add to this list silently: name the
# finding, the issue and the owner.
#  (none: the SSE shutdown heap-use-after-free of issue 14 item 14 is fixed; the sessions are held weakly.)
ASAN_KNOWN_FAILURES=()

# Any report fails: ASan stops at the first error, LSan runs at exit, UBSan is built not to recover
# (-fno-sanitize-recover=all) and prints its stack, TSan exits non-zero at the first race.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp

# Each phase's wall time, and the CPU time of what it ran (user+sys of the children: what to compare when the
# machine was busy with something else).
step_started=0
step_cpu=0
cpu=0
times_file=$(mktemp)
trap 'rm -f "$times_file"' EXIT
declare -a summary=()
cpu_now() {  # sets cpu: centiseconds of user+sys CPU used so far by the finished children of this shell
  times >"$times_file"
  cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
                       printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 100 }' "$times_file")
}
step() {
  printf '\n== sanitize: %s\n' "$*"
  step_started=$SECONDS
  cpu_now
  step_cpu=$cpu
}
done_step() {
  local took=$((SECONDS - step_started))
  cpu_now
  local used=$(((cpu - step_cpu) / 100))
  summary+=("$(printf '%-20s wall %3dm%02ds   cpu %3dm%02ds' "$1" $((took / 60)) $((took % 60)) \
    $((used / 60)) $((used % 60)))")
}

configure() {  # configure <dir> <sanitizers>
  cmake -S . -B "$1" -G Ninja -Wno-dev \
    -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DIH_SANITIZE="$2" \
    -DIH_BUILD_BENCH=OFF >/dev/null
}

scripts/setup.sh --deps
status=0

for lane in "${lanes[@]}"; do
  case $lane in
    asan)
      step "ASan+UBSan build ($asan_dir)"
      configure "$asan_dir" address,undefined
      nice -n 5 cmake --build "$asan_dir" -j"$jobs"
      done_step "asan+ubsan build"
      step "ASan+UBSan tests"
      known_regex="^($(printf '%s\n' "${ASAN_KNOWN_FAILURES[@]}" | sed 's/[][\.^$*+?(){}|/]/\\&/g' | paste -sd'|'))\$"
      ctest --test-dir "$asan_dir" -j"$jobs" --output-on-failure --timeout 900 \
        -E "^sdk_out_of_tree\$|^postgres_test_integration\$|^postgres_test_hostile\$|$known_regex" "$@" || status=1
      done_step "asan+ubsan tests"
      if ((${#ASAN_KNOWN_FAILURES[@]})); then
        step "ASan+UBSan known failures (ASAN_KNOWN_FAILURES in $0; they do not fail the lane)"
        if ctest --test-dir "$asan_dir" -j"$jobs" --output-on-failure --timeout 900 -R "$known_regex"; then
          echo "sanitize: every known failure passes now: empty ASAN_KNOWN_FAILURES in $0"
        else
          echo "sanitize: known failures still failing (see above): ${#ASAN_KNOWN_FAILURES[@]} listed"
        fi
        done_step "asan known failures"
      fi
      ;;
    tsan)
      step "TSan build ($tsan_dir): ${TSAN_TARGETS[*]}"
      configure "$tsan_dir" thread
      nice -n 5 cmake --build "$tsan_dir" -j"$jobs" --target "${TSAN_TARGETS[@]}"
      done_step "tsan build"
      step "TSan tests"
      label_regex="^($(IFS='|'; echo "${TSAN_TARGETS[*]}"))\$"
      ctest --test-dir "$tsan_dir" -j"$jobs" --output-on-failure --timeout 900 -L "$label_regex" "$@" || status=1
      done_step "tsan tests"
      ;;
  esac
done

printf '\n== sanitize: wall and CPU time per phase\n'
printf '%s\n' "${summary[@]}"
exit $status
