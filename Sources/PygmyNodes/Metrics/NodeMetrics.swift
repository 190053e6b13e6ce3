import CoreMetrics
import Prometheus
import PygmyBookstore
import PygmyRPC
import Synchronization

/// One node's Prometheus metrics, recorded through swift-metrics into a registry of the node's own.
///
/// The swift-metrics objects are made with this node's `PrometheusMetricsFactory` passed explicitly, never
/// through `MetricsSystem.bootstrap`: the bootstrap is process-wide and may run once, while in-process
/// clusters (tests, the simulator's neighbours) run several nodes in one process, each with its endpoint.
///
/// Recorded as things happen: RPC calls (from the server's `observeCall`) and SQLite commits (from the
/// shell). Read from the node at each scrape (`update(_:)`): what its core already knows (peers, epoch,
/// holds, cache counts) and its server's connections. The cores stay free of metrics.
public final class NodeMetrics: Sendable {
    /// The registry the metrics endpoint renders.
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let methods = Mutex<[String: MethodMetrics]>([:])
    private let errors = Mutex<[ErrorKey: CoreMetrics.Counter]>([:])
    private let sampled = Mutex(Sampled())
    /// Catalog and order replicas only: the frontend stores nothing.
    private let commits: CoreMetrics.Timer?
    private let connections: CoreMetrics.Gauge
    private let callsInFlight: CoreMetrics.Gauge

    /// Latency buckets from 50 µs (a cache hit on loopback) to 10 s (a buy that waited out timeouts).
    static let buckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    private struct MethodMetrics: Sendable {
        let requests: CoreMetrics.Counter
        let latency: CoreMetrics.Timer
    }

    private struct ErrorKey: Hashable, Sendable {
        let method: String
        let code: UInt16
    }

    /// What the last scrape saw, to turn the core's running totals into counter increments.
    private struct Sampled: Sendable {
        var cacheHits = 0
        var cacheMisses = 0
        var peers: [String: CoreMetrics.Gauge] = [:]
    }

    /// - Parameters:
    ///   - role: the node's role (a label of `pygmy_node_info`).
    ///   - version: the node's version (the other label).
    public init(role: NodeRole, version: String) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.buckets
        self.factory = factory
        commits =
            role == .frontend ? nil : CoreMetrics.Timer(label: "pygmy_sqlite_commit_duration_seconds", factory: factory)
        connections = CoreMetrics.Gauge(label: "pygmy_open_connections", factory: factory)
        callsInFlight = CoreMetrics.Gauge(label: "pygmy_rpc_calls_in_flight", factory: factory)
        CoreMetrics.Gauge(
            label: "pygmy_node_info",
            dimensions: [("role", role.rawValue), ("version", version)],
            factory: factory
        )
        .record(1)
    }

    // MARK: Recorded as it happens

    /// Counts one answered RPC call: `pygmy_rpc_requests_total`, `pygmy_rpc_request_duration_seconds` and,
    /// for a failure, `pygmy_rpc_errors_total` with its code. Called on the connection's event loop.
    @Sendable public func observe(_ call: RPCCallRecord) {
        let method = self.method(call.method)
        method.requests.increment()
        method.latency.recordNanoseconds(Self.nanoseconds(call.duration))
        guard let code = call.error else { return }
        let key = ErrorKey(method: call.method, code: code.rawValue)
        let counter = errors.withLock { errors in
            if let counter = errors[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: "pygmy_rpc_errors_total",
                dimensions: [("method", call.method), ("code", Self.name(of: code))],
                factory: factory
            )
            errors[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Records how long one SQLite transaction of the shell took (`pygmy_sqlite_commit_duration_seconds`).
    func recordCommit(_ elapsed: Duration) {
        commits?.recordNanoseconds(Self.nanoseconds(elapsed))
    }

    private func method(_ name: String) -> MethodMetrics {
        methods.withLock { methods in
            if let known = methods[name] { return known }
            let made = MethodMetrics(
                requests: CoreMetrics.Counter(
                    label: "pygmy_rpc_requests_total",
                    dimensions: [("method", name)],
                    factory: factory
                ),
                latency: CoreMetrics.Timer(
                    label: "pygmy_rpc_request_duration_seconds",
                    dimensions: [("method", name)],
                    factory: factory
                )
            )
            methods[name] = made
            return made
        }
    }

    // MARK: Read at each scrape

    /// Brings the scraped metrics up to date with `sample`, then renders every metric in the Prometheus
    /// text format.
    func render(_ sample: NodeMetricsSample) -> String {
        update(sample)
        return registry.emitToString()
    }

    /// Sets the gauges and advances the counters that mirror what the node already keeps.
    func update(_ sample: NodeMetricsSample) {
        connections.record(sample.openConnections)
        callsInFlight.record(sample.callsInFlight)
        if let epoch = sample.epoch {
            CoreMetrics.Gauge(label: "pygmy_membership_epoch", factory: factory).record(epoch)
        }
        if let holds = sample.holdsInFlight {
            CoreMetrics.Gauge(label: "pygmy_holds_in_flight", factory: factory).record(holds)
        }
        let (hits, misses, peerGauges) = sampled.withLock { last in
            var hits = 0
            var misses = 0
            if let now = sample.cacheHits {
                hits = max(0, now - last.cacheHits)
                last.cacheHits = now
            }
            if let now = sample.cacheMisses {
                misses = max(0, now - last.cacheMisses)
                last.cacheMisses = now
            }
            for peer in sample.peersUp + sample.peersDown where last.peers[peer] == nil {
                last.peers[peer] = CoreMetrics.Gauge(
                    label: "pygmy_peer_up",
                    dimensions: [("peer", peer)],
                    factory: factory
                )
            }
            return (hits, misses, last.peers)
        }
        if sample.cacheHits != nil {
            // Registered even at zero, so a scrape shows the frontend's cache from the start.
            CoreMetrics.Counter(label: "pygmy_cache_hits_total", factory: factory).increment(by: hits)
            CoreMetrics.Counter(label: "pygmy_cache_misses_total", factory: factory).increment(by: misses)
        }
        for peer in sample.peersUp { peerGauges[peer]?.record(1) }
        for peer in sample.peersDown { peerGauges[peer]?.record(0) }
    }

    /// A code's name for the `code` label: the framework's names, and the bookstore's for its codes.
    static func name(of code: RPCError.Code) -> String {
        if let bookstore = BookstoreError.Code(rawValue: code.rawValue) { return "\(bookstore)" }
        return "\(code)"
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// What a node knows that its metrics mirror, read at each scrape. nil: the node's role has no such value.
struct NodeMetricsSample: Sendable {
    var peersUp: [String] = []
    var peersDown: [String] = []
    /// Catalog and order replicas: the epoch of the membership they know.
    var epoch: UInt64?
    /// Catalog replicas: holds made and neither committed nor released yet.
    var holdsInFlight: Int?
    /// The frontend: its cache's running totals.
    var cacheHits: Int?
    var cacheMisses: Int?
    var openConnections = 0
    var callsInFlight = 0
}
