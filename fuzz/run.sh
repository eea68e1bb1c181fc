#!/usr/bin/env bash
# run.sh SECONDS NAME... - run each libFuzzer harness build-fuzz/fuzz_NAME for
# SECONDS on its seed corpus fuzz/corpus/NAME (read only) plus a working
# corpus build-fuzz/work/NAME that keeps what it finds between runs.
# One line per harness with its executions; a crash, leak, timeout or
# sanitizer report fails it and leaves the input in build-fuzz/artifacts/.
# Ends with "N passed, N failed" like the other suites.
set -u
cd "$(dirname "$0")/.."
secs=$1; shift
pass=0
fail=0
mkdir -p build-fuzz/artifacts build-fuzz/logs
for name in "$@"; do
    bin=build-fuzz/fuzz_$name
    work=build-fuzz/work/$name
    log=build-fuzz/logs/$name.log
    mkdir -p "$work"
    case $name in
        ckpt|ckpt_apply) maxlen=1048576 ;;
        classifier) maxlen=262144 ;;      # one classifier file is 259,624 bytes
        idx|idx_gz) maxlen=8192 ;;
        *) maxlen=4096 ;;
    esac
    "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=$maxlen \
        -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$name- \
        "$work" "fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        pass=$((pass + 1))
        echo "ok   fuzz_$name: ${execs:-?} executions in ${secs} s ($cov, corpus $(ls "$work" | wc -l) + $(ls "fuzz/corpus/$name" | wc -l) seeds)"
    else
        fail=$((fail + 1))
        echo "FAIL fuzz_$name (exit $rc after ${execs:-?} executions; see $log):"
        grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -n 8 | sed 's/^/     /'
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
