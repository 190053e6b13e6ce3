import Histogram
import PygmyBookstore
import Synchronization

/// Per-operation service-time histograms of one node (HdrHistogram, microseconds), reported through
/// `node.health` so the per-tier table of the original experiments comes from the nodes themselves.
final class LatencyRecorder: Sendable {
    private let histograms = Mutex<[String: Histogram<UInt64>]>([:])

    /// Times `body` and records it under `operation`, whether it succeeds or throws.
    func measure<T>(_ operation: String, _ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer { record(operation, ContinuousClock.now - start) }
        return try await body()
    }

    func record(_ operation: String, _ elapsed: Duration) {
        let micros = UInt64(
            max(1, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
        )
        histograms.withLock { all in
            // Mutating in place: a copy out of the dictionary would duplicate the whole counts array.
            _ = all[
                operation,
                default: Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            ]
            .record(min(micros, 60_000_000))
        }
    }

    func summaries() -> [LatencySummary] {
        return histograms.withLock { all in
            all.keys.sorted().map { op in
                let h = all[op]!
                return LatencySummary(
                    operation: op,
                    count: Int(h.totalCount),
                    meanMicros: h.mean,
                    p50Micros: Int(h.valueAtPercentile(50)),
                    p99Micros: Int(h.valueAtPercentile(99))
                )
            }
        }
    }

    func reset() { histograms.withLock { $0.removeAll() } }
}
