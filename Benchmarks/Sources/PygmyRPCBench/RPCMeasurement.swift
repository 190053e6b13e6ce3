import Foundation
import Histogram

/// How much of each RPC phase to run.
struct RPCBenchSettings: Codable, Sendable {
    /// Sequential calls recorded in the latency histogram.
    var calls: Int
    /// Sequential calls made (and discarded) before the latency phase.
    var warmupCalls: Int
    /// Seconds of the concurrent throughput phase.
    var duration: Double
    /// Seconds of concurrent calls made (and discarded) before the throughput phase.
    var warmupDuration: Double
    /// Concurrent callers sharing the one connection.
    var concurrency: Int
}

/// What one peer measured.
struct RPCResult: Codable, Sendable {
    var peer: PeerKind
    var label: String
    /// Sequential (one in flight) round-trip latency, microseconds.
    var p50Micros: Double
    var p90Micros: Double
    var p99Micros: Double
    var p999Micros: Double
    var meanMicros: Double
    var maxMicros: Double
    var latencyCalls: Int
    /// Calls completed per second by `concurrency` callers on one connection.
    var callsPerSecond: Double
    var throughputCalls: Int
    var throughputSeconds: Double
    var concurrency: Int
}

/// Monotonic nanoseconds.
@inline(__always)
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs the warm-up, the sequential latency phase and the concurrent throughput phase against `client`.
func measureRPC(kind: PeerKind, client: any EchoClient, settings: RPCBenchSettings) async throws -> RPCResult {
    log("\(kind.label): warm-up")
    for _ in 0..<settings.warmupCalls { try await client.echo() }
    _ = try await runConcurrently(client, callers: settings.concurrency, seconds: settings.warmupDuration)

    log("\(kind.label): \(settings.calls) sequential calls")
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    for _ in 0..<settings.calls {
        let start = nowNanos()
        try await client.echo()
        _ = histogram.record(nowNanos() - start)
    }

    log("\(kind.label): \(settings.concurrency) callers for \(settings.duration) s")
    let (calls, seconds) = try await runConcurrently(
        client,
        callers: settings.concurrency,
        seconds: settings.duration
    )
    let micros = { (nanos: UInt64) in Double(nanos) / 1_000 }
    return RPCResult(
        peer: kind,
        label: kind.label,
        p50Micros: micros(histogram.valueAtPercentile(50)),
        p90Micros: micros(histogram.valueAtPercentile(90)),
        p99Micros: micros(histogram.valueAtPercentile(99)),
        p999Micros: micros(histogram.valueAtPercentile(99.9)),
        meanMicros: histogram.mean / 1_000,
        maxMicros: micros(histogram.max),
        latencyCalls: settings.calls,
        callsPerSecond: Double(calls) / seconds,
        throughputCalls: calls,
        throughputSeconds: seconds,
        concurrency: settings.concurrency
    )
}

/// `callers` tasks each call in a loop until `seconds` have passed. Returns the calls completed and the
/// time from the start until the last caller finished.
func runConcurrently(_ client: any EchoClient, callers: Int, seconds: Double) async throws -> (Int, Double) {
    let start = nowNanos()
    let end = start + UInt64(seconds * 1e9)
    let calls = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<callers {
            group.addTask {
                var made = 0
                while nowNanos() < end {
                    try await client.echo()
                    made += 1
                }
                return made
            }
        }
        return try await group.reduce(0, +)
    }
    return (calls, Double(nowNanos() - start) / 1e9)
}
