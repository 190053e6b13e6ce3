import Foundation

/// CPU pinning with `taskset`, when it exists and the machine has at least two CPUs.
enum Pinning {
    static let taskset = ["/usr/bin/taskset", "/bin/taskset"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Pins every thread of this process (and so every thread created later) to `cpu`.
    static func pinCurrentProcess(toCPU cpu: Int) -> Bool {
        guard let taskset, ProcessInfo.processInfo.activeProcessorCount > cpu else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: taskset)
        process.arguments = ["-a", "-p", "-c", "\(cpu)", "\(getpid())"]
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }
}

/// An echo server running as a child process: this executable re-launched as
/// `serve --kind K --port 0`, which prints `PORT <n>` once bound and exits when its stdin closes.
final class ServerProcess {
    let process: Process
    let port: Int
    private let stdin: Pipe

    private init(process: Process, port: Int, stdin: Pipe) {
        self.process = process
        self.port = port
        self.stdin = stdin
    }

    struct LaunchError: Error, CustomStringConvertible {
        var description: String
    }

    /// The path of the running executable.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts a server of `kind`, pinned to `pinToCPU` if given, and waits for its port.
    static func launch(kind: PeerKind, pinToCPU: Int?) throws -> ServerProcess {
        let process = Process()
        var arguments = ["serve", "--kind", kind.rawValue, "--port", "0"]
        if let cpu = pinToCPU, let taskset = Pinning.taskset {
            process.executableURL = URL(fileURLWithPath: taskset)
            arguments = ["-c", "\(cpu)", executablePath] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executablePath)
        }
        process.arguments = arguments
        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()

        // Read lines until "PORT <n>"; anything else the server prints is passed on to stderr.
        var buffered = ""
        while true {
            let chunk = stdout.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                throw LaunchError(description: "\(kind) server exited before reporting its port")
            }
            buffered += String(decoding: chunk, as: UTF8.self)
            while let newline = buffered.firstIndex(of: "\n") {
                let line = buffered[..<newline]
                buffered = String(buffered[buffered.index(after: newline)...])
                if line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) {
                    return ServerProcess(process: process, port: port, stdin: stdin)
                }
                log("\(kind) server: \(line)")
            }
        }
    }

    /// Closes the server's stdin (it exits) and waits for it; terminates it if it lingers.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
