import Foundation
import Synchronization

/// A running `openssl` command (`s_client`, `s_server`) whose stdout and stderr are collected together.
final class OpenSSLProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = CollectedOutput()

    /// Starts `openssl <arguments>`.
    init(_ arguments: [String]) throws {
        signal(SIGPIPE, SIG_IGN)  // Writing to a process that already exited must not kill the tests.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let pipe = Pipe()
        process.standardInput = input
        process.standardOutput = pipe
        process.standardError = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { output.append(data) }
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Everything the process printed so far.
    var text: String { output.text }

    /// Writes `text` to the process's stdin (ignored once the process has gone).
    func send(_ text: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Closes the process's stdin (`s_client` then sends `close_notify` and exits).
    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits until the output contains `needle`; returns the whole output.
    @discardableResult
    func waitForOutput(containing needle: String, timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = self.text
            if text.contains(needle) { return text }
            if ContinuousClock.now > deadline { throw WaitTimedOut(what: "openssl output '\(needle)'", observed: text) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Duration = .seconds(10)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw WaitTimedOut(what: "openssl to exit", observed: text)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }
}

/// Output bytes appended from Foundation's reading thread.
private final class CollectedOutput: Sendable {
    private let data = Mutex(Data())

    func append(_ more: Data) { data.withLock { $0.append(more) } }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
