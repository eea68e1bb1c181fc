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
# kill -9 at random moments with restarts (tests/test_crash.py).
#
#   run.sh                  the suites against ./ganlive
#   run.sh --sanitizer S    the same against ./ganlive-S (no browser)
#   run.sh --all            (make test) the suites, then all but the browser
#                           again under ASan+UBSan, the TSan stress test
#                           (tests/test_stress.py) and FUZZ_TEST_SECONDS (5)
#                           of each fuzzer; needs `make test-builds`
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

# run_suite NAME CMD...: run one suite, echo its output, add up its counts.
run_suite() {
    local name=$1; shift
    local log="$log_dir/$name.log"
    echo "== $name"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! $name printed no result line (exit $rc): counted as one failure"
        total_fail=$((total_fail + 1))
        return
    fi
    local p f
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "!! $name exited $rc: counted as one failure"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

run_suite unit "$build/run_tests"
run_suite cli tests/test_cli.sh "$bin" "$data"
run_suite http /usr/bin/python3 tests/test_http.py "$bin" "$data"
run_suite insight /usr/bin/python3 tests/test_insight.py "$bin" "$data"
run_suite quality /usr/bin/python3 tests/test_quality_api.py "$bin" "$data"
run_suite security /usr/bin/python3 tests/test_security.py "$bin" "$data"
run_suite checkpoint /usr/bin/python3 tests/test_ckpt_api.py "$bin" "$data"
run_suite classroom /usr/bin/python3 tests/test_classroom.py "$bin" "$data"
# 50 kill -9 restarts (10 under a sanitizer, where each start is slower)
run_suite crash /usr/bin/python3 tests/test_crash.py "$bin" "$data" ${san:+10}
if [ -z "$san" ]; then
    run_suite browser tests/browser/run.sh "$bin" "$data"
    run_suite browser-insight node tests/browser/insight.mjs
    run_suite browser-classroom tests/browser/classroom.sh "$bin" "$data"
fi
if [ "$all" = 1 ]; then
    # sanitizer reports are fatal (-fno-sanitize-recover=all, halt_on_error)
    ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite asan tests/run.sh --sanitizer address
    run_suite tsan-stress /usr/bin/python3 tests/test_stress.py ./ganlive-thread "$data" 25
    run_suite fuzz fuzz/run.sh "${FUZZ_TEST_SECONDS:-5}" config query idx ckpt ckpt_apply classifier idx_gz http
fi

echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
