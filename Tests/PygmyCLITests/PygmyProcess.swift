import Foundation
import Synchronization
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

    /// Runs `pygmy arguments…` to completion (killed after `timeout`), on a thread of its own: the calling
    /// task is suspended, never blocked, so no thread of Swift concurrency's cooperative pool (two on a
    /// two-core machine) waits for a child process. A test that blocked a pool thread here could starve,
    /// and with another blocked test deadlock, every async test of the run.
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Swift.Result { try runBlocking(arguments, environment: environment, timeout: timeout) }
                )
            }
            .start()
        }
    }

    /// `run` on the calling thread. Never call it on a cooperative thread (from a test or a task).
    private static func runBlocking(
        _ arguments: [String],
        environment: [String: String],
        timeout: Duration
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        // Foundation's pipes are inheritable; a child process started at the same moment by Swift Testing (an
        // exit test closes only the descriptors above its own) would hold the write ends open and delay EOF.
        for pipe in [out, err] { closeOnExec(pipe) }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        let collected = Collector()
        Thread { collected.setOut(out.fileHandleForReading.readDataToEndOfFile()) }.start()
        Thread { collected.setErr(err.fileHandleForReading.readDataToEndOfFile()) }.start()
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        let killAt = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < killAt { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        // A grandchild that inherited the pipes (it should not) keeps them open: take what came, do not wait.
        let eofBy = ContinuousClock.now + .seconds(10)
        while !collected.done && ContinuousClock.now < eofBy { usleep(1_000) }
        let (stdout, stderr) = collected.get()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdout ?? Data(), as: UTF8.self),
            stderr: String(decoding: stderr ?? Data(), as: UTF8.self)
                + (collected.done ? "" : "\n[pygmy's output was still open 10 s after it exited]")
        )
    }

    /// Marks both ends of `pipe` close-on-exec (`Process` still gives the child its copies of them).
    static func closeOnExec(_ pipe: Pipe) {
        for fd in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] {
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        }
    }

    /// What the reader threads collected, handed to the waiting thread.
    final class Collector: Sendable {
        private let data = Mutex<(out: Data?, err: Data?)>((nil, nil))
        func setOut(_ value: Data) { data.withLock { $0.out = value } }
        func setErr(_ value: Data) { data.withLock { $0.err = value } }
        func get() -> (Data?, Data?) { data.withLock { ($0.out, $0.err) } }
        var done: Bool { data.withLock { $0.out != nil && $0.err != nil } }
    }

    /// Runs `body`, then `pygmy cluster down --dir directory` and removes the directory, also when `body`
    /// throws.
    static func withClusterDown<T>(_ directory: String, _ body: () async throws -> T) async throws -> T {
        try await withCleanup(body) {
            _ = try? await run(["cluster", "down", "--dir", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Runs `body` with a local cluster started by `pygmy cluster up --detach` on free ports in a fresh
    /// directory (its path is passed) and ready, then stops it and removes the directory.
    static func withReadyCluster<T>(_ prefix: String, _ body: (String) async throws -> T) async throws -> T {
        let dir = temporaryDirectory(prefix)
        return try await withClusterDown(dir) {
            let up = try await run(["cluster", "up", "--dir", dir, "--base-port", "\(freeBasePort())", "--detach"])
            #expect(up.status == 0, "cluster up failed: \(up.stderr)")
            let ready = try await run(["status", "--wait", "--timeout", "30", "--cluster", dir])
            #expect(ready.status == 0, "\(ready.stdout) \(ready.stderr)")
            return try await body(dir)
        }
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

extension Process {
    /// Waits, without blocking a thread, until the process has exited and been reaped; false if it is
    /// still running after `timeout`. (`waitUntilExit()` would block a cooperative thread: see `run`.)
    func exited(within timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !isRunning
    }
}

/// Runs `body`, then `cleanup` also when `body` throws: a `defer` whose clean-up can await, instead of a
/// `defer` that blocks its thread on a semaphore until a task does the clean-up. (That task needs a thread of
/// the cooperative pool; when every one of them is blocked so, nothing ever runs it.)
func withCleanup<T>(
    _ body: () async throws -> T,
    cleanup: () async -> Void
) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}
