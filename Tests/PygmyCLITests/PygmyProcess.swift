import Foundation
import Testing

/// Runs the real `pygmy` executable (built by `swift build`, which `swift test` does first).
enum PygmyProcess {
    /// The built executable next to the test bundle.
    static let executable: String = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [
            bundle.appendingPathComponent("pygmy"), bundle.deletingLastPathComponent().appendingPathComponent("pygmy"),
        ] {
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/pygmy").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `pygmy arguments…` to completion (killed after `timeout`).
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        let collected = Collector()
        let readers = [
            Thread { collected.out = out.fileHandleForReading.readDataToEndOfFile() },
            Thread { collected.err = err.fileHandleForReading.readDataToEndOfFile() },
        ]
        readers.forEach { $0.start() }
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        while !collected.done { usleep(1_000) }
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: collected.out ?? Data(), as: UTF8.self),
            stderr: String(decoding: collected.err ?? Data(), as: UTF8.self)
        )
    }

    final class Collector: @unchecked Sendable {
        var out: Data?
        var err: Data?
        var done: Bool { out != nil && err != nil }
    }

    /// A fresh directory under the system temp directory.
    static func temporaryDirectory(_ prefix: String) -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Five consecutive free ports starting somewhere in 20000–60000.
    static func freeBasePort() -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20000...60000)
            if (0..<5).allSatisfy({ isFree(base + $0) }) { return base }
        }
        return 45000
    }

    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
