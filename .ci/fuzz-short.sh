#!/usr/bin/env bash
# Short coverage-guided fuzzing for CI: builds the libFuzzer targets (fuzz/build.sh) and runs each for
# FUZZ_SECONDS (default 30). Prints one line per target (executions, coverage, result) and exits non-zero
# if any target found a crash, leak, timeout or out-of-memory input (saved in fuzz/artifacts/TARGET/ and
# copied to fuzz/regressions/TARGET/). Works from a clean clone: only the Swift toolchain is needed.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (space-separated subset), and everything
# fuzz/run.sh reads (FUZZ_DETECT_LEAKS, FUZZ_TIMEOUT, FUZZ_RSS_LIMIT_MB, FUZZ_MAX_LEN, FUZZ_JOBS, FUZZ_EXTRA).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

seconds="${FUZZ_SECONDS:-30}"
read -r -a targets <<<"${FUZZ_TARGETS:-frames stream hello messages pipeline}"

echo "== fuzz: build"
if ! fuzz/build.sh; then
    echo "fuzz: build failed"
    exit 2
fi
echo "== fuzz: ${seconds} s per target: ${targets[*]}"
FUZZ_SKIP_BUILD=1 fuzz/run.sh "$seconds" "${targets[@]}" >fuzz/out/fuzz-short.log 2>&1
status=$?
# The one-line summaries (run.sh prints each twice: as it goes and at the end).
sed -n '/^== fuzz summary/,$p' fuzz/out/fuzz-short.log | tail -n +2
if [ "$status" -ne 0 ]; then
    echo "fuzz: FAILED (status $status): see fuzz/out/logs/ and docs/FUZZING.md (\"A crash\")"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
