#!/usr/bin/env bash
# run.sh - the whole ganlive test suite, as `make test` runs it.
#
# Suites: the C unit tests (build/run_tests), the command-line tests
# (tests/test_cli.sh), the HTTP integration test against a real server
# (tests/test_http.py) and the dashboard in headless Chromium
# (tests/browser/dashboard.mjs). Each prints its own "N passed, N failed";
# this script adds them up and ends with the same line for the whole run.
# The insight endpoints (CSV, Prometheus, real digits, latent walks) have
# their own HTTP suite (tests/test_insight.py).
# Also the malformed-request battery and slow clients (tests/test_security.py),
# checkpoints and the divergence guard over HTTP (tests/test_ckpt_api.py) and
# kill -9 at random moments with restarts (tests/test_crash.py), the
# regression checks of the README trial (tests/test_regress.py) and the
# README's curl examples run against real servers (tests/test_readme.py).
#
#   run.sh                  the suites against ./ganlive
#   run.sh --sanitizer S    the same against ./ganlive-S (no browser)
#   run.sh --all            (make test) the suites, then all but the browser
#                           again under ASan+UBSan, the TSan stress test
#                           (tests/test_stress.py) and FUZZ_TEST_SECONDS (5)
#                           of each fuzzer; needs `make test-builds`
#
# Every suite runs under a timeout (SUITE_TIMEOUT seconds, 900 by default;
# a few suites get more, see timeout_for; the times are stretched 3x under
# a sanitizer). A suite that overruns is killed with its whole process
# group (its servers too) and counted as one failure, with a line naming
# it. At the end one line per suite says what ran against which build, with
# its counts and time, then the closing line "N passed, N failed".
#
# A new suite is one more `run_suite NAME CMD...` line below.
set -u
cd "$(dirname "$0")/.."
san=""
all=0
if [ "${1:-}" = "--sanitizer" ]; then san=$2; fi
if [ "${1:-}" = "--all" ]; then all=1; fi
bin=./ganlive${san:+-$san}
build=build${san:+-$san}
data=data/mnist
total_pass=0
total_fail=0
log_dir=$build/test-logs
mkdir -p "$log_dir"

# How long a suite may take, in seconds (before the sanitizer stretch).
timeout_for() {
    case $1 in
        crash|faults|classroom|browser*) echo "${SUITE_TIMEOUT:-1200}" ;;
        asan) echo 7200 ;;                 # the whole suite again, each part timed itself
        *) echo "${SUITE_TIMEOUT:-900}" ;;
    esac
}
stretch=1
if [ -n "$san" ]; then stretch=3; fi
summary=()

# run_suite NAME CMD...: run one suite under its timeout, echo its output,
# add up its counts and note one summary line.
run_suite() {
    local name=$1; shift
    local log="$log_dir/$name.log"
    local limit=$(( $(timeout_for "$name") * stretch ))
    [ "$name" = asan ] && limit=$(timeout_for asan)
    local t0=$SECONDS what=${bin#./} a
    for a in "$@"; do                     # the build it runs: a binary among its arguments
        case $a in ganlive-*|./ganlive-*|build*/run_tests|build-fuzz*) what=${a#./}; break ;; esac
    done
    case $1 in */run_tests) what=${1#./} ;; fuzz/run.sh) what=build-fuzz ;; esac
    echo "== $name (against $what, timeout ${limit} s)"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local took=$((SECONDS - t0))
    local line p=0 f=0 note=""
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    fi
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "!! $name TIMED OUT after ${limit} s and was killed: counted as one failure"
        f=$((f + 1)); note=" TIMED OUT"
    elif [ -z "$line" ]; then
        echo "!! $name printed no result line (exit $rc): counted as one failure"
        f=1; note=" no result line"
    elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "!! $name exited $rc: counted as one failure"
        f=1; note=" exit $rc"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    summary+=("$(printf '%-18s %-20s %6d passed %4d failed %6d s%s' "$name" "$what" "$p" "$f" "$took" "$note")")
}

run_suite unit "$build/run_tests"
run_suite layers /usr/bin/python3 tests/test_layers.py "$build"
run_suite cli tests/test_cli.sh "$bin" "$data"
run_suite http /usr/bin/python3 tests/test_http.py "$bin" "$data"
run_suite insight /usr/bin/python3 tests/test_insight.py "$bin" "$data"
run_suite quality /usr/bin/python3 tests/test_quality_api.py "$bin" "$data"
run_suite security /usr/bin/python3 tests/test_security.py "$bin" "$data"
run_suite regress /usr/bin/python3 tests/test_regress.py "$bin" "$data"
run_suite readme /usr/bin/python3 tests/test_readme.py "$bin" "$data"
run_suite checkpoint /usr/bin/python3 tests/test_ckpt_api.py "$bin" "$data"
run_suite runs /usr/bin/python3 tests/test_runs.py "$bin" "$data"
run_suite classroom /usr/bin/python3 tests/test_classroom.py "$bin" "$data"
run_suite modes /usr/bin/python3 tests/test_modes.py "$bin" "$data"
run_suite settings /usr/bin/python3 tests/test_settings.py "$bin" "$data"
# 50 kill -9 restarts (10 under a sanitizer, where each start is slower)
run_suite crash /usr/bin/python3 tests/test_crash.py "$bin" "$data" ${san:+10}
run_suite faults /usr/bin/python3 tests/test_faults.py "$bin" "$data"
if [ -z "$san" ]; then
    run_suite learning /usr/bin/python3 tests/test_learning.py "$bin" "$data"
    run_suite browser tests/browser/run.sh "$bin" "$data"
    run_suite browser-insight node tests/browser/insight.mjs
    run_suite browser-classroom tests/browser/classroom.sh "$bin" "$data"
    run_suite browser-runs tests/browser/runs.sh "$bin" "$data"
fi
if [ "$all" = 1 ]; then
    # sanitizer reports are fatal (-fno-sanitize-recover=all, halt_on_error)
    ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite asan tests/run.sh --sanitizer address
    run_suite tsan-stress /usr/bin/python3 tests/test_stress.py ./ganlive-thread "$data" 25
    run_suite fuzz fuzz/run.sh "${FUZZ_TEST_SECONDS:-5}" config query idx ckpt ckpt_apply classifier idx_gz http
fi

echo
echo "-- what ran (suite, build, counts, time)${san:+ under $san}:"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
