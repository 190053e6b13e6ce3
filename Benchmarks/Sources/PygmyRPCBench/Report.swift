import Foundation

/// A ratio checked against its target.
struct Ratio: Codable, Sendable {
    var name: String
    var value: Double
    /// "<=" or ">=".
    var comparison: String
    var target: Double
    var met: Bool
}

/// Everything one run measured, printed as a table and written as JSON.
struct Report: Codable, Sendable {
    var date = ISO8601DateFormatter().string(from: Date())
    var cpus = ProcessInfo.processInfo.activeProcessorCount
    var buildConfiguration: String = {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }()
    /// /proc/loadavg when the run started: other work on the machine skews every figure.
    var loadAverage =
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
        .split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
    var payloadBytes = echoPayloadSize
    var settings: RPCBenchSettings
    var quick: Bool
    /// Whether the server ran pinned to CPU 0 and the client to CPU 1.
    var pinned: Bool
    var rpc: [RPCResult] = []
    var codec: [CodecResult] = []
    var ratios: [Ratio] = []
    /// New connections per second (connect, hello, TLS handshake where used, close), one at a time.
    var connectionsPerSecond: [String: Double] = [:]

    init(settings: RPCBenchSettings, quick: Bool, pinned: Bool) {
        self.settings = settings
        self.quick = quick
        self.pinned = pinned
    }

    /// The targets of the brief, for whichever peers were measured.
    mutating func computeRatios() {
        let by = Dictionary(rpc.map { ($0.peer, $0) }, uniquingKeysWith: { a, _ in a })
        func add(_ name: String, _ value: Double, _ comparison: String, _ target: Double) {
            let met = comparison == "<=" ? value <= target : value >= target
            ratios.append(Ratio(name: name, value: value, comparison: comparison, target: target, met: met))
        }
        if let pygmy = by[.pygmy], let nio = by[.nio] {
            add("Pygmy p50 / NIO p50", pygmy.p50Micros / nio.p50Micros, "<=", 1.5)
        }
        if let pygmy = by[.pygmy], let tls = by[.pygmyTLS] {
            add("Pygmy TLS p50 / Pygmy p50", tls.p50Micros / pygmy.p50Micros, "<=", 1.5)
        }
        if let pygmy = by[.pygmy], let grpc = by[.grpc] {
            add("Pygmy p50 / gRPC p50", pygmy.p50Micros / grpc.p50Micros, "<=", 0.2)
            add("Pygmy calls/s / gRPC calls/s", pygmy.callsPerSecond / grpc.callsPerSecond, ">=", 5)
        }
        for value in Set(codec.map(\.value)).sorted() {
            guard let binary = codec.first(where: { $0.value == value && $0.codec == "binary" }),
                let json = codec.first(where: { $0.value == value && $0.codec == "json" })
            else { continue }
            add("JSON / binary round trip, \(value)", json.roundTripNanos / binary.roundTripNanos, ">=", 10)
        }
    }

    func table() -> String {
        var lines: [String] = []
        let pinning = pinned ? "server pinned to CPU 0, client to CPU 1" : "not pinned"
        lines.append("")
        lines.append("\(date), load average at start: \(loadAverage)")
        if !rpc.isEmpty {
            lines.append("")
            lines.append(
                "Unary echo, \(payloadBytes)-byte payload, 127.0.0.1, \(cpus) CPUs, \(buildConfiguration), \(pinning)"
            )
            lines.append(
                "Latency: \(settings.calls) sequential calls. Throughput: \(settings.concurrency) callers on one connection for \(fmt(settings.duration)) s."
            )
            lines.append(row(["peer", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "mean µs", "max µs", "calls/s"]))
            for r in rpc {
                lines.append(
                    row([
                        r.peer.rawValue, fmt(r.p50Micros), fmt(r.p90Micros), fmt(r.p99Micros), fmt(r.p999Micros),
                        fmt(r.meanMicros), fmt(r.maxMicros), fmt(r.callsPerSecond, 0),
                    ])
                )
            }
        }
        if !connectionsPerSecond.isEmpty {
            lines.append("")
            lines.append("New connections per second (connect + hello + TLS handshake where used + close, sequential)")
            for (peer, rate) in connectionsPerSecond.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(peer.padding(toLength: 12, withPad: " ", startingAt: 0)) \(fmt(rate, 0))")
            }
        }
        if !codec.isEmpty {
            lines.append("")
            lines.append("Codec, ns per op (median of batches)")
            lines.append(row(["value", "codec", "encode", "decode", "round trip", "bytes"]))
            for c in codec {
                lines.append(
                    row([
                        c.value, c.codec, fmt(c.encodeNanos, 0), fmt(c.decodeNanos, 0), fmt(c.roundTripNanos, 0),
                        "\(c.bytes)",
                    ])
                )
            }
        }
        if !ratios.isEmpty {
            lines.append("")
            lines.append("Ratios")
            for r in ratios {
                let status = r.met ? "met" : "MISSED"
                lines.append(
                    "  \(r.name.padding(toLength: 40, withPad: " ", startingAt: 0)) \(fmt(r.value, 2).leftPad(8))"
                        + "   target \(r.comparison) \(fmt(r.target, 1))   \(status)"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Writes the report as pretty-printed JSON, creating the directory if needed.
    func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (encoder.encode(self) + Data("\n".utf8)).write(to: url)
    }

    /// `Benchmarks/results/latest.json`, found from this source file's location; relative to the
    /// working directory if the sources are not where they were built.
    static func defaultPath() -> String {
        let benchmarks = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: benchmarks.appendingPathComponent("Package.swift").path) {
            return benchmarks.appendingPathComponent("results/latest.json").path
        }
        return "Benchmarks/results/latest.json"
    }
}

private func fmt(_ value: Double, _ digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}

private func row(_ cells: [String]) -> String {
    cells.enumerated().map { i, cell in
        i == 0 ? cell.padding(toLength: 12, withPad: " ", startingAt: 0) : cell.leftPad(11)
    }
    .joined()
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
