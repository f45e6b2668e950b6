#!/bin/sh
# run.sh - run one libFuzzer harness for a while (what `make fuzz` does).
#
#   sh tests/fuzz/run.sh NAME SECONDS BUILD_DIR SEED_DIR [EXTRA_DIR...]
#
# Runs BUILD_DIR/fuzz/fuzz_NAME on BUILD_DIR/fuzz-out/NAME/corpus, a working
# copy of SEED_DIR (the committed corpus is never written; what the fuzzer
# adds there stays for the next local run, `make clean` drops it), reading
# the EXTRA_DIRs as well.  Anything found (crash, leak, timeout, out of
# memory) is written to BUILD_DIR/fuzz-out/NAME/found/; the script then shows
# the end of the log, says how to reproduce it, and exits 1.  The last line
# is "fuzz: N passed, M failed" (N inputs run, M = 1 after a failure).
set -eu

name=$1 seconds=$2 build=$3 seeds=$4
shift 4
bin=$build/fuzz/fuzz_$name
replay=$build/asan/fuzz_${name}_replay
out=$build/fuzz-out/$name

mkdir -p "$out/corpus" "$out/found"
cp -p "$seeds"/* "$out/corpus/" 2>/dev/null || true
touch "$out/started"
log=$out/fuzz.log

echo "fuzz: $name for ${seconds}s (log: $log)"
status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/found/" \
    "$out/corpus" "$@" >"$log" 2>&1 || status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
if [ "$status" -eq 0 ]; then
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "fuzz: $name ran ${runs:-0} inputs ($cov, $(find "$out/corpus" -type f | wc -l) in its corpus)"
    echo "fuzz: ${runs:-0} passed, 0 failed"
    exit 0
fi

tail -n 60 "$log"
found=$(find "$out/found" -type f -newer "$out/started" | head -n 1)
echo "fuzz: $name FAILED (exit $status); the input that shows it: ${found:-none saved, see $log}" >&2
if [ -n "$found" ]; then
    echo "fuzz: reproduce with:  $replay $found" >&2
    echo "fuzz:             or:  $bin $found" >&2
    echo "fuzz: once fixed, keep it as a regression input: see tests/fuzz/README.md" >&2
fi
echo "fuzz: $(( ${runs:-1} > 0 ? ${runs:-1} - 1 : 0 )) passed, 1 failed"
exit 1
