#!/usr/bin/env bash
# Builds the libFuzzer binary of the Pygmy fuzz targets: fuzz/out/bin/pygmy-fuzz, plus one link per target
# (fuzz/out/bin/fuzz-frames, fuzz-stream, fuzz-hello, fuzz-messages, fuzz-pipeline).
#
# 1. SwiftPM builds the library modules the targets need (PygmyWire, PygmyRPC, PygmyBookstore, NIOEmbedded
#    and their dependencies) into its own scratch path, fuzz/out/spm, with coverage instrumentation and
#    AddressSanitizer (-sanitize=fuzzer,address) and with testing enabled (the pipeline target uses
#    `@testable import PygmyRPC`). Only library targets are built, so nothing is linked there.
# 2. swiftc compiles fuzz/Entry.swift with Tests/PygmyFuzzTests/FuzzHarness.swift (the targets, shared with
#    the regression tests) and links them with those modules' objects and libFuzzer.
#
# Environment: FUZZ_CONFIG=release|debug (default release: much faster fuzzing, slower build);
# FUZZ_BUILD_JOBS=N (swift build -j N; default: one per core), FUZZ_NICE=N (run the compilers under
# `nice -n N`, for a machine shared with others).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

config="${FUZZ_CONFIG:-release}"
scratch="fuzz/out/spm"
bin="fuzz/out/bin"
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)
[ -n "${FUZZ_BUILD_JOBS:-}" ] && flags+=(-j "$FUZZ_BUILD_JOBS")
nice=()
[ -n "${FUZZ_NICE:-}" ] && nice=(nice -n "$FUZZ_NICE")
mkdir -p fuzz/out "$bin"

echo "== fuzz build: library modules ($config, -sanitize=fuzzer,address) into $scratch"
for target in PygmyRPC PygmyBookstore NIOEmbedded; do
    for attempt in 1 2 3; do
        if "${nice[@]}" swift build --scratch-path "$scratch" -c "$config" --target "$target" "${flags[@]}" >"fuzz/out/build-$target.log" 2>&1; then
            break
        fi
        if [ "$attempt" -eq 3 ]; then
            tail -n 40 "fuzz/out/build-$target.log" >&2
            echo "fuzz build: swift build --target $target failed (log: fuzz/out/build-$target.log)" >&2
            exit 1
        fi
        echo "   swift build --target $target failed; retrying in 20 s (someone may be mid-edit)" >&2
        sleep 20
    done
done

products="$scratch/$(uname -m)-unknown-linux-gnu/$config"
[ -d "$products" ] || products="$(find "$scratch" -maxdepth 2 -type d -name "$config" | head -n 1)"

# The objects of every module built above (the dependency closure of the three targets).
mapfile -t objects < <(find "$products" -path '*.build/*.o' -not -path '*/PygmyFuzzTests.build/*' | sort)
# The C modules that Swift modules import: module maps SwiftPM generated, and the packages' include folders.
mapfile -t modulemaps < <(find "$products" -maxdepth 2 -name module.modulemap -path '*.build/module.modulemap' | sort)
cc_flags=()
for map in "${modulemaps[@]}"; do cc_flags+=(-Xcc "-fmodule-map-file=$map"); done
for include in "$scratch"/checkouts/*/Sources/*/include; do
    [ -d "$include" ] && cc_flags+=(-Xcc "-I$include")
done

mkdir -p "$bin"
opt=(-O)
[ "$config" = debug ] && opt=(-Onone -g)
echo "== fuzz build: linking $bin/pygmy-fuzz (${#objects[@]} objects)"
"${nice[@]}" swiftc "${opt[@]}" -parse-as-library -module-name PygmyFuzz \
    -sanitize=fuzzer,address \
    -swift-version 6 -enable-upcoming-feature ExistentialAny \
    -I "$products/Modules" -I "$products" "${cc_flags[@]}" \
    fuzz/Entry.swift Tests/PygmyFuzzTests/FuzzHarness.swift \
    "${objects[@]}" \
    -o "$bin/pygmy-fuzz" 2> >(grep -v "Cannot export local symbol" >&2)

for target in frames stream hello messages pipeline; do
    ln -sf pygmy-fuzz "$bin/fuzz-$target"
done
echo "== fuzz build: done: $bin/fuzz-{frames,stream,hello,messages,pipeline}"
