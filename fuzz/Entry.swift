// libFuzzer entry points for the Pygmy fuzz targets. fuzz/build.sh compiles this file together with
// Tests/PygmyFuzzTests/FuzzHarness.swift (the targets themselves) into one binary, fuzz/out/bin/pygmy-fuzz,
// and links it as fuzz/out/bin/fuzz-TARGET for each target: the name picks the target.
//
// Environment:
//   PYGMY_FUZZ_TARGET        the target, overriding the binary's name (frames, stream, hello, messages, pipeline)
//   PYGMY_FUZZ_WRITE_SEEDS   write the target's seed inputs into this directory and exit
//   PYGMY_FUZZ_VECTORS       the Protocol/vectors directory the seeds are made from

import Foundation

nonisolated(unsafe) var selectedTarget = FuzzTarget.frames

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let environment = ProcessInfo.processInfo.environment
    var name = environment["PYGMY_FUZZ_TARGET"]
    if name == nil, argc.pointee > 0, let first = argv.pointee?[0] {
        let program = (String(cString: first) as NSString).lastPathComponent
        if program.hasPrefix("fuzz-") { name = String(program.dropFirst(5)) }
    }
    guard let name, let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandleStderr.write("pygmy-fuzz: set PYGMY_FUZZ_TARGET (or run as fuzz-TARGET); targets: \(names)\n")
        exit(2)
    }
    selectedTarget = target
    if let directory = environment["PYGMY_FUZZ_WRITE_SEEDS"] {
        let vectors = environment["PYGMY_FUZZ_VECTORS"] ?? "Protocol/vectors"
        let seeds = FuzzSeeds.all(vectors: vectors)[target] ?? []
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for seed in seeds {
            let path = (directory as NSString).appendingPathComponent(seed.name)
            _ = FileManager.default.createFile(atPath: path, contents: Data(seed.bytes))
        }
        FileHandleStderr.write("pygmy-fuzz: wrote \(seeds.count) \(target.rawValue) seeds to \(directory)\n")
        _exit(0)  // not exit(): LeakSanitizer would report the runtime's caches at exit
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = selectedTarget.run(bytes)
    return 0
}
