import Foundation
import Histogram
import PygmyBookstore

// The figures `pygmy bench` produces, as written to `latest.json`. Times are in microseconds unless a
// name says otherwise.

/// The operations the clients make.
public enum BenchOp: String, Codable, CaseIterable, Sendable {
    case search, lookup, buy
}

/// A latency distribution from an HdrHistogram (3 significant digits).
public struct LatencyStats: Codable, Sendable {
    public var count: Int
    public var meanMicros: Double
    public var p50Micros: Int
    public var p90Micros: Int
    public var p99Micros: Int
    public var p999Micros: Int
    public var maxMicros: Int
    /// (percentile, µs) points for percentile plots.
    public var distribution: [[Double]]?

    init(_ h: Histogram<UInt64>, distribution: Bool = false) {
        count = Int(h.totalCount)
        meanMicros = h.totalCount == 0 ? 0 : h.mean
        p50Micros = Int(h.valueAtPercentile(50))
        p90Micros = Int(h.valueAtPercentile(90))
        p99Micros = Int(h.valueAtPercentile(99))
        p999Micros = Int(h.valueAtPercentile(99.9))
        maxMicros = Int(h.max)
        if distribution && h.totalCount > 0 {
            self.distribution = Self.plotPercentiles.map { [$0, Double(h.valueAtPercentile($0))] }
        }
    }

    static let plotPercentiles: [Double] = [
        0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.5, 99.9, 99.95, 99.99,
    ]
}

/// What one tier (the frontend, or the catalog or order replicas) measured for one operation.
public struct TierStats: Codable, Sendable {
    /// The node-side operation, for example `catalog.hold`.
    public var operation: String
    public var count: Int
    /// Exact for the experiment: taken from the difference of counts and means before and after it.
    public var meanMicros: Double
    /// For two replicas, the higher of the two. From the nodes' cumulative histograms: exact for the
    /// experiment only when `percentilesExact` (the nodes had recorded none of this operation before it).
    public var p50Micros: Int
    public var p99Micros: Int
    public var percentilesExact: Bool
}

/// One row of the original report's table.
public struct LatencyRow: Codable, Sendable {
    public var operation: BenchOp
    public var client: LatencyStats
    public var frontend: TierStats?
    public var catalog: TierStats?
    public var order: TierStats?
}

/// Experiment 1: one cluster configuration.
public struct LatencyConfig: Codable, Sendable {
    public var cache: Bool
    public var clients: Int
    public var requestsPerClientPerOperation: Int
    public var elapsedSeconds: Double
    public var cacheHits: Int?
    public var cacheMisses: Int?
    public var errors: [String: Int]
    public var rows: [LatencyRow]
    /// Every node-side operation during the run (difference of counts; means exact).
    public var nodeOperations: [String: TierStats]

    public func row(_ op: BenchOp) -> LatencyRow? { rows.first { $0.operation == op } }
}

/// The loopback floors.
public struct EchoResults: Codable, Sendable {
    /// 32 bytes over a blocking TCP socket, the server a thread in another process.
    public var rawSocket: LatencyStats
    /// `RPCClient.call` of a method that returns its 32-byte `Data` request, `RPCServer` in another process.
    public var pygmyRPC: LatencyStats
    /// Pygmy RPC echo calls per second with `throughputClients` clients (one connection each).
    public var pygmyRPCCallsPerSecond: Double
    public var throughputClients: Int
}

/// Experiment 2.
public struct HitMissResults: Codable, Sendable {
    public var iterations: Int
    public var lookupHit: LatencyStats
    public var lookupMiss: LatencyStats
    public var searchHit: LatencyStats
    public var searchMiss: LatencyStats
    public var buy: LatencyStats
    /// The frontend's own counters over the experiment (expected: 2 × iterations of each).
    public var frontendHits: Int?
    public var frontendMisses: Int?
    public var errors: [String: Int]
}

/// Experiment 3: one phase of the failover run.
public struct FailoverPhase: Codable, Sendable {
    public var name: String
    public var seconds: Double
    public var requests: Int
    public var errors: [String: Int]
    public var operations: [String: LatencyStats]
    public var all: LatencyStats
}

public struct FailoverEvent: Codable, Sendable {
    public var atSeconds: Double
    public var what: String
}

/// How long a restarted replica took to come back.
public struct Recovery: Codable, Sendable {
    public var node: String
    /// Process started → its RPC port answers `node.health`.
    public var listeningMillis: Double?
    /// → it reports `ready` (a catalog replica: and answers a direct `catalog.lookup`).
    public var servingMillis: Double?
    /// → the frontend counts it up again.
    public var frontendSeesUpMillis: Double?
}

public struct TimelineBucket: Codable, Sendable {
    public var startSeconds: Double
    public var completed: Int
    public var errors: Int
    public var meanMicros: Double
    public var maxMicros: Int
}

public struct FailoverResults: Codable, Sendable {
    public var clients: Int
    public var phases: [FailoverPhase]
    public var events: [FailoverEvent]
    public var recoveries: [Recovery]
    public var bucketMillis: Int
    public var timeline: [TimelineBucket]
}

/// Experiment 4: one closed-loop run of fixed duration.
public struct ThroughputRun: Codable, Sendable {
    public var workload: String  // lookup, buy, mix
    public var clients: Int
    public var seconds: Double
    public var requests: Int
    public var requestsPerSecond: Double
    public var latency: LatencyStats
    public var errors: [String: Int]
}

public struct TargetResult: Codable, Sendable {
    public var name: String
    public var value: Double
    public var unit: String
    public var comparison: String  // "<=", "<", ">="
    public var target: Double
    public var met: Bool
    public var detail: String
}

public struct MachineInfo: Codable, Sendable {
    public var cpus: Int
    public var kernel: String
    public var build: String
    public var loadAverageStart: Double
    public var loadAverageEnd: Double
}

/// Every figure of one `pygmy bench` run.
public struct BenchResults: Codable, Sendable {
    public var tool = "pygmy bench"
    public var formatVersion = 1
    public var date: String
    public var quick: Bool
    public var cluster: String
    public var machine: MachineInfo
    public var totalSeconds: Double = 0
    public var echo: EchoResults?
    public var latency: [LatencyConfig] = []
    public var hitMiss: HitMissResults?
    public var failover: FailoverResults?
    public var throughput: [ThroughputRun] = []
    /// Issue 14: memory, restart times and sync sizes against the length of the history.
    public var history: HistoryResults?
    public var targets: [TargetResult] = []
    public var notes: [String] = []

    public func latency(cache: Bool, clients: Int) -> LatencyConfig? {
        latency.first { $0.cache == cache && $0.clients == clients }
    }

    public func throughput(_ workload: String, clients: Int) -> ThroughputRun? {
        throughput.first { $0.workload == workload && $0.clients == clients }
    }
}

/// The original course report's figures, printed beside ours.
public enum OriginalReport {
    /// Lab 3 (Flask over HTTP on the edlab machines), 1 client with cache, mean ms at the client.
    public static let client1Cached: [BenchOp: Double] = [.search: 67.2, .lookup: 90.1, .buy: 396.5]
    /// The same, per tier: (frontend, catalog, order) in ms.
    public static let tiers1Cached: [BenchOp: (Double, Double, Double?)] = [
        .search: (15.9, 2.9, nil), .lookup: (38.8, 1.8, nil), .buy: (346, 2.5, 278.2),
    ]
    public static let client1Uncached: [BenchOp: Double] = [.search: 110.2, .lookup: 100.8, .buy: 373.9]
    /// The Flask figures quoted in the issue (not in the report itself).
    public static let flaskLookupHitMillis = 0.79
    public static let flaskLookupMissMillis = 2.7
    public static let flaskSearchMillis = 2.6
    public static let flaskBuyMillis = 17.0
    public static let flaskRequestsPerSecond = 250.0
    /// The report's experiment 2: one hit then one miss of the same item.
    public static let reportHitMillis = 1.9
    public static let reportMissMillis = 9.04
}

extension Histogram<UInt64> {
    static func micros() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    mutating func record(_ elapsed: Duration) {
        let micros = Swift.max(
            1,
            elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        )
        _ = record(UInt64(Swift.min(micros, 60_000_000)))
    }
}
