import Foundation
import Histogram
import PygmyBookstore

// The figures `pygmy bench` produces, as written to `latest.json`. Times are in microseconds unless a
// name says otherwise.

/// The operations the clients make.
enum BenchOp: String, Codable, CaseIterable, Sendable {
    case search, lookup, buy
}

/// A latency distribution from an HdrHistogram (3 significant digits).
struct LatencyStats: Codable, Sendable {
    var count: Int
    var meanMicros: Double
    var p50Micros: Int
    var p90Micros: Int
    var p99Micros: Int
    var p999Micros: Int
    var maxMicros: Int
    /// (percentile, µs) points for percentile plots.
    var distribution: [[Double]]?

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
struct TierStats: Codable, Sendable {
    /// The node-side operation, for example `catalog.hold`.
    var operation: String
    var count: Int
    /// Exact for the experiment: taken from the difference of counts and means before and after it.
    var meanMicros: Double
    /// For two replicas, the higher of the two. From the nodes' cumulative histograms: exact for the
    /// experiment only when `percentilesExact` (the nodes had recorded none of this operation before it).
    var p50Micros: Int
    var p99Micros: Int
    var percentilesExact: Bool
}

/// One row of the original report's table.
struct LatencyRow: Codable, Sendable {
    var operation: BenchOp
    var client: LatencyStats
    var frontend: TierStats?
    var catalog: TierStats?
    var order: TierStats?
}

/// Experiment 1: one cluster configuration.
struct LatencyConfig: Codable, Sendable {
    var cache: Bool
    var clients: Int
    var requestsPerClientPerOperation: Int
    var elapsedSeconds: Double
    var cacheHits: Int?
    var cacheMisses: Int?
    var errors: [String: Int]
    var rows: [LatencyRow]
    /// Every node-side operation during the run (difference of counts; means exact).
    var nodeOperations: [String: TierStats]

    func row(_ op: BenchOp) -> LatencyRow? { rows.first { $0.operation == op } }
}

/// The loopback floors.
struct EchoResults: Codable, Sendable {
    /// 32 bytes over a blocking TCP socket, the server a thread in another process.
    var rawSocket: LatencyStats
    /// `RPCClient.call` of a method that returns its 32-byte `Data` request, `RPCServer` in another process.
    var pygmyRPC: LatencyStats
    /// Pygmy RPC echo calls per second with `throughputClients` clients (one connection each).
    var pygmyRPCCallsPerSecond: Double
    var throughputClients: Int
}

/// Experiment 2.
struct HitMissResults: Codable, Sendable {
    var iterations: Int
    var lookupHit: LatencyStats
    var lookupMiss: LatencyStats
    var searchHit: LatencyStats
    var searchMiss: LatencyStats
    var buy: LatencyStats
    /// The frontend's own counters over the experiment (expected: 2 × iterations of each).
    var frontendHits: Int?
    var frontendMisses: Int?
    var errors: [String: Int]
}

/// Experiment 3: one phase of the failover run.
struct FailoverPhase: Codable, Sendable {
    var name: String
    var seconds: Double
    var requests: Int
    var errors: [String: Int]
    var operations: [String: LatencyStats]
    var all: LatencyStats
}

struct FailoverEvent: Codable, Sendable {
    var atSeconds: Double
    var what: String
}

/// How long a restarted replica took to come back.
struct Recovery: Codable, Sendable {
    var node: String
    /// Process started → its RPC port answers `node.health`.
    var listeningMillis: Double?
    /// → it reports `ready` (a catalog replica: and answers a direct `catalog.lookup`).
    var servingMillis: Double?
    /// → the frontend counts it up again.
    var frontendSeesUpMillis: Double?
}

struct TimelineBucket: Codable, Sendable {
    var startSeconds: Double
    var completed: Int
    var errors: Int
    var meanMicros: Double
    var maxMicros: Int
}

struct FailoverResults: Codable, Sendable {
    var clients: Int
    var phases: [FailoverPhase]
    var events: [FailoverEvent]
    var recoveries: [Recovery]
    var bucketMillis: Int
    var timeline: [TimelineBucket]
}

/// Experiment 4: one closed-loop run of fixed duration.
struct ThroughputRun: Codable, Sendable {
    var workload: String  // lookup, buy, mix
    var clients: Int
    var seconds: Double
    var requests: Int
    var requestsPerSecond: Double
    var latency: LatencyStats
    var errors: [String: Int]
}

struct TargetResult: Codable, Sendable {
    var name: String
    var value: Double
    var unit: String
    var comparison: String  // "<=", "<", ">="
    var target: Double
    var met: Bool
    var detail: String
}

struct MachineInfo: Codable, Sendable {
    var cpus: Int
    var kernel: String
    var build: String
    var loadAverageStart: Double
    var loadAverageEnd: Double
}

/// Every figure of one `pygmy bench` run.
struct BenchResults: Codable, Sendable {
    var tool = "pygmy bench"
    var formatVersion = 1
    var date: String
    var quick: Bool
    var cluster: String
    var machine: MachineInfo
    var totalSeconds: Double = 0
    var echo: EchoResults?
    var latency: [LatencyConfig] = []
    var hitMiss: HitMissResults?
    var failover: FailoverResults?
    var throughput: [ThroughputRun] = []
    var targets: [TargetResult] = []
    var notes: [String] = []

    func latency(cache: Bool, clients: Int) -> LatencyConfig? {
        latency.first { $0.cache == cache && $0.clients == clients }
    }

    func throughput(_ workload: String, clients: Int) -> ThroughputRun? {
        throughput.first { $0.workload == workload && $0.clients == clients }
    }
}

/// The original course report's figures, printed beside ours.
enum OriginalReport {
    /// Lab 3 (Flask over HTTP on the edlab machines), 1 client with cache, mean ms at the client.
    static let client1Cached: [BenchOp: Double] = [.search: 67.2, .lookup: 90.1, .buy: 396.5]
    /// The same, per tier: (frontend, catalog, order) in ms.
    static let tiers1Cached: [BenchOp: (Double, Double, Double?)] = [
        .search: (15.9, 2.9, nil), .lookup: (38.8, 1.8, nil), .buy: (346, 2.5, 278.2),
    ]
    static let client1Uncached: [BenchOp: Double] = [.search: 110.2, .lookup: 100.8, .buy: 373.9]
    /// The Flask figures quoted in the issue (not in the report itself).
    static let flaskLookupHitMillis = 0.79
    static let flaskLookupMissMillis = 2.7
    static let flaskSearchMillis = 2.6
    static let flaskBuyMillis = 17.0
    static let flaskRequestsPerSecond = 250.0
    /// The report's experiment 2: one hit then one miss of the same item.
    static let reportHitMillis = 1.9
    static let reportMissMillis = 9.04
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

extension Duration {
    var micros: Double { Double(components.seconds) * 1e6 + Double(components.attoseconds) / 1e12 }
}
