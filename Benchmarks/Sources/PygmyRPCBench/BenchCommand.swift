import ArgumentParser
import Foundation

/// `pygmy-rpc-bench`: one run measures unary echo latency and throughput for Pygmy RPC, gRPC and a bare
/// SwiftNIO echo (each server in its own process), then the binary coder against JSON, and prints a
/// table and writes a JSON report.
@main
struct PygmyRPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pygmy-rpc-bench",
        abstract: "Pygmy RPC vs gRPC vs bare SwiftNIO, and the binary coder vs JSON.",
        subcommands: [Run.self, Serve.self],
        defaultSubcommand: Run.self
    )
}

/// The benchmark run (the default subcommand).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Runs the benchmarks (default).")

    @Option(help: "Sequential calls measured for latency, per peer.")
    var calls: Int?

    @Option(help: "Seconds of the concurrent throughput phase, per peer.")
    var duration: Double?

    @Option(help: "Concurrent callers (tasks) sharing one connection in the throughput phase.")
    var concurrency: Int = 64

    @Option(help: "Where to write the JSON report (default: Benchmarks/results/latest.json).")
    var json: String?

    @Flag(help: "Small counts, for a smoke run.")
    var quick = false

    @Option(help: "Comma-separated subset of pygmy,pygmy-tls,grpc,nio,codec.")
    var only: String = "pygmy,pygmy-tls,grpc,nio,codec"

    @Flag(inversion: .prefixedNo, help: "Pin the server to CPU 0 and this process to CPU 1 with taskset.")
    var pin = true

    func run() async throws {
        let wanted = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        let unknown = wanted.subtracting(["pygmy", "pygmy-tls", "grpc", "nio", "codec"])
        guard unknown.isEmpty else { throw ValidationError("unknown --only entries: \(unknown.sorted())") }
        let settings = RPCBenchSettings(
            calls: calls ?? (quick ? 2_000 : 20_000),
            warmupCalls: quick ? 200 : 2_000,
            duration: duration ?? (quick ? 1 : 5),
            warmupDuration: quick ? 0.25 : 1,
            concurrency: concurrency
        )
        let pinned = pin && Pinning.pinCurrentProcess(toCPU: 1)
        var report = Report(settings: settings, quick: quick, pinned: pinned)

        if wanted.contains(PeerKind.pygmyTLS.rawValue) {
            log("making throwaway TLS certificates in \(try BenchCertificates.directory())")
        }
        for kind in PeerKind.allCases where wanted.contains(kind.rawValue) {
            log("\(kind.label): starting server process")
            let server = try ServerProcess.launch(kind: kind, pinToCPU: pinned ? 0 : nil)
            defer { server.stop() }
            let result = try await withEchoClient(kind: kind, port: server.port) { client in
                try await measureRPC(kind: kind, client: client, settings: settings)
            }
            report.rpc.append(result)
            if kind == .pygmy || kind == .pygmyTLS {
                let seconds = quick ? 0.5 : 2
                let rate = try await PygmyEcho.connectionsPerSecond(
                    port: server.port,
                    tls: kind == .pygmyTLS,
                    seconds: seconds
                )
                report.connectionsPerSecond[kind.rawValue] = rate
            }
        }
        if wanted.contains("codec") {
            log("codec: binary vs JSON")
            report.codec = try CodecBench.run(batches: quick ? 3 : 9, targetBatchSeconds: quick ? 0.02 : 0.1)
        }
        report.computeRatios()
        print(report.table())
        let path = json ?? Report.defaultPath()
        try report.write(to: path)
        print("JSON report: \(path)")
    }
}

/// Serves one kind of echo server and prints `PORT <n>` on stdout once bound; exits when stdin closes.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Runs an echo server (used by the benchmark).")

    @Option(help: "pygmy, grpc or nio.")
    var kind: PeerKind

    @Option(help: "TCP port on 127.0.0.1; 0 picks a free one.")
    var port: Int = 0

    func run() async throws {
        exitWhenStdinCloses()
        try await serveEcho(kind: kind, port: port) { bound in
            FileHandle.standardOutput.write(Data("PORT \(bound)\n".utf8))
        }
    }
}

/// Progress lines go to stderr so stdout holds only the table.
func log(_ message: String) {
    FileHandle.standardError.write(Data("[bench] \(message)\n".utf8))
}

/// Ends the process when the parent closes our stdin (or dies), so no server outlives a run.
func exitWhenStdinCloses() {
    let thread = Thread {
        _ = FileHandle.standardInput.readDataToEndOfFile()
        exit(0)
    }
    thread.start()
}
