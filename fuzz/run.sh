#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 60): fuzz/run.sh [SECONDS] [TARGET...]
#
# Targets: frames stream hello messages pipeline (all by default). For each it prints executions, coverage
# (libFuzzer's cov: edges and ft: features) and the corpus size, and whether it found a crash, leak,
# timeout or out-of-memory input. Such inputs are saved in fuzz/artifacts/TARGET/ and copied into
# fuzz/regressions/TARGET/, which the tests in Tests/PygmyFuzzTests replay (`swift test --filter PygmyFuzzTests`).
# Exits 1 if any target found one.
#
# Corpus: fuzz/corpus/TARGET (seeds, committed; rewritten from Protocol/vectors and valid traffic on each run)
# and fuzz/corpus-work/TARGET (what libFuzzer found, kept between runs, not committed).
#
# Environment:
#   FUZZ_SKIP_BUILD=1      use the binary in fuzz/out/bin as it is
#   FUZZ_DETECT_LEAKS=0    do not stop on leaks (default 1)
#   FUZZ_TIMEOUT=N         seconds one input may take before it counts as a hang (default 10)
#   FUZZ_RSS_LIMIT_MB=N    memory limit (default 2048)
#   FUZZ_MAX_LEN=N         largest input libFuzzer generates (default 4096)
#   FUZZ_JOBS=N            run N fuzzing processes per target in parallel (libFuzzer -fork=N; default 1)
#   FUZZ_EXTRA="..."       more libFuzzer flags
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(frames stream hello messages pipeline)

if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    fuzz/build.sh || exit 2
fi
bin=fuzz/out/bin
mkdir -p fuzz/out/logs

# The Swift runtime's backtracer and AddressSanitizer's report get in each other's way: let ASan report.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_stack_use_after_return=0:handle_abort=1}"

status=0
summaries=()
for target in "${targets[@]}"; do
    seeds="fuzz/corpus/$target"
    work="fuzz/corpus-work/$target"
    artifacts="fuzz/artifacts/$target"
    regressions="fuzz/regressions/$target"
    mkdir -p "$seeds" "$work" "$artifacts"
    PYGMY_FUZZ_TARGET="$target" PYGMY_FUZZ_WRITE_SEEDS="$seeds" PYGMY_FUZZ_VECTORS=Protocol/vectors \
        "$bin/pygmy-fuzz" >/dev/null 2>&1 || { echo "$target: cannot write seeds" >&2; status=2; continue; }
    before=$(ls "$artifacts" | sort)
    log="fuzz/out/logs/$target.log"
    fork=()
    [ "${FUZZ_JOBS:-1}" -gt 1 ] && fork=(-fork="${FUZZ_JOBS}" -ignore_crashes=0)
    # shellcheck disable=SC2086
    "$bin/fuzz-$target" \
        -max_total_time="$seconds" \
        -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}" \
        -max_len="${FUZZ_MAX_LEN:-4096}" \
        -detect_leaks="${FUZZ_DETECT_LEAKS:-1}" \
        -dict=fuzz/pygmy.dict \
        -artifact_prefix="$artifacts/" \
        -print_final_stats=1 \
        "${fork[@]}" ${FUZZ_EXTRA:-} \
        "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    [ -z "$execs" ] && execs=$(echo "$last" | sed -nE 's/^#([0-9]+).*/\1/p')
    cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    ft=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
    corp=$(echo "$last" | sed -nE 's/.*corp: ([0-9]+).*/\1/p')
    rate=$(grep -E '^stat::average_exec_per_sec' "$log" | tail -n 1 | awk '{print $2}')
    new=$(comm -13 <(echo "$before") <(ls "$artifacts" | sort) | grep -v '^$' || true)
    if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
        status=1
        kind=$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)[^\n]*' "$log" | head -n 1)
        [ -z "$kind" ] && kind=$(grep -m1 -oE 'fuzz property violated: .*|Fatal error: .*' "$log")
        mkdir -p "$regressions"
        for file in $new; do cp "$artifacts/$file" "$regressions/$file"; done
        result="FOUND (${kind:-exit $rc}): $(echo $new | sed "s|\([^ ]*\)|$artifacts/\1|g"); copied to $regressions/; log $log"
    else
        result="ok"
    fi
    line="$target: ${execs:-0} execs in ${seconds}s (${rate:-?}/s), cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?}: $result"
    echo "$line"
    summaries+=("$line")
done
echo
echo "== fuzz summary"
printf '%s\n' "${summaries[@]}"
exit "$status"
