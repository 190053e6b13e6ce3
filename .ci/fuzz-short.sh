#!/usr/bin/env bash
# Short coverage-guided fuzzing for CI: builds the libFuzzer targets (fuzz/build.sh) and runs each for
# FUZZ_SECONDS (default 30). Prints one line per target (executions, coverage, result) and exits non-zero
# if any target found a crash, leak, timeout or out-of-memory input (saved in fuzz/artifacts/TARGET/ and
# copied to fuzz/regressions/TARGET/). Works from a clean clone: only the Swift toolchain is needed.
#
# Ends with a total line: "fuzz total: N execs in S s of fuzzing over T targets (build B s)".
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (space-separated subset), everything fuzz/build.sh
# reads (FUZZ_CONFIG, FUZZ_BUILD_JOBS, FUZZ_NICE) and everything fuzz/run.sh reads (FUZZ_DETECT_LEAKS,
# FUZZ_TIMEOUT, FUZZ_RSS_LIMIT_MB, FUZZ_MAX_LEN, FUZZ_JOBS, FUZZ_EXTRA).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

seconds="${FUZZ_SECONDS:-30}"
read -r -a targets <<<"${FUZZ_TARGETS:-frames stream hello messages pipeline}"

echo "== fuzz: build"
started=$SECONDS
if ! fuzz/build.sh; then
    echo "fuzz: build failed"
    exit 2
fi
built=$((SECONDS - started))
echo "== fuzz: ${seconds} s per target: ${targets[*]}"
FUZZ_SKIP_BUILD=1 fuzz/run.sh "$seconds" "${targets[@]}" >fuzz/out/fuzz-short.log 2>&1
status=$?
# The one-line summaries (run.sh prints each twice: as it goes and at the end).
summary=$(sed -n '/^== fuzz summary/,$p' fuzz/out/fuzz-short.log | tail -n +2)
echo "$summary"
total=$(echo "$summary" | sed -nE 's/^[a-z]+: ([0-9]+) execs.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
echo "fuzz total: ${total} execs in $((seconds * ${#targets[@]})) s of fuzzing over ${#targets[@]} targets (build ${built} s)"
if [ "$status" -ne 0 ]; then
    [ -z "$summary" ] && tail -n 20 fuzz/out/fuzz-short.log
    echo "fuzz: FAILED (status $status): see fuzz/out/logs/ and docs/FUZZING.md (\"A crash\")"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
