import Foundation
import Histogram
import PygmyBookstore
import PygmyNodes
import PygmyRPC

/// How much of each experiment to run.
public struct BenchSettings: Sendable {
    public var clients: [Int]
    public var requests: Int
    public var hitMissIterations: Int
    public var throughputClients: [Int]
    public var mixClients: Int
    public var throughputSeconds: Double
    public var warmupSeconds: Double
    public var failoverClients: Int
    public var failoverPhaseSeconds: Double
    public var echoCalls: Int
    public var echoThroughputSeconds: Double
    public var experiments: Set<String>
    public var workloads: Set<String>
    /// Orders of history per cluster of the history experiment (`--history-sizes`).
    public var historySizes: [Int] = BenchHistoryDefaults.sizes

    /// Settings as `pygmy bench` derives them from its options.
    public init(
        clients: [Int],
        requests: Int,
        hitMissIterations: Int,
        throughputClients: [Int],
        mixClients: Int,
        throughputSeconds: Double,
        warmupSeconds: Double,
        failoverClients: Int,
        failoverPhaseSeconds: Double,
        echoCalls: Int,
        echoThroughputSeconds: Double,
        experiments: Set<String>,
        workloads: Set<String>
    ) {
        self.clients = clients
        self.requests = requests
        self.hitMissIterations = hitMissIterations
        self.throughputClients = throughputClients
        self.mixClients = mixClients
        self.throughputSeconds = throughputSeconds
        self.warmupSeconds = warmupSeconds
        self.failoverClients = failoverClients
        self.failoverPhaseSeconds = failoverPhaseSeconds
        self.echoCalls = echoCalls
        self.echoThroughputSeconds = echoThroughputSeconds
        self.experiments = experiments
        self.workloads = workloads
    }

    func runs(_ experiment: String) -> Bool { experiments.contains(experiment) }
}

/// The four experiments of the original report, plus the echo floor.
struct BenchExperiments: Sendable {
    let settings: BenchSettings
    let progress: BenchProgress

    // MARK: Node-side figures

    /// Per-tier figures for one experiment, from the nodes' own histograms before and after it.
    struct NodeDiff {
        var before: ClusterStatus?
        var after: ClusterStatus

        func tier(_ role: String, _ operation: String) -> TierStats? {
            var count = 0
            var sum = 0.0
            var p50 = 0
            var p99 = 0
            var exact = true
            for node in after.nodes where node.role == role {
                guard let a = node.latencies.first(where: { $0.operation == operation }) else { continue }
                let b = before?.nodes.first { $0.name == node.name }?.latencies.first { $0.operation == operation }
                let added = a.count - (b?.count ?? 0)
                guard added > 0 else { continue }
                count += added
                sum += a.meanMicros * Double(a.count) - (b.map { $0.meanMicros * Double($0.count) } ?? 0)
                p50 = max(p50, a.p50Micros)
                p99 = max(p99, a.p99Micros)
                if (b?.count ?? 0) > 0 { exact = false }
            }
            guard count > 0 else { return nil }
            return TierStats(
                operation: operation,
                count: count,
                meanMicros: sum / Double(count),
                p50Micros: p50,
                p99Micros: p99,
                percentilesExact: exact
            )
        }

        func allOperations() -> [String: TierStats] {
            var out: [String: TierStats] = [:]
            for node in after.nodes {
                for summary in node.latencies where out[summary.operation] == nil {
                    if let stats = tier(node.role, summary.operation) { out[summary.operation] = stats }
                }
            }
            return out
        }

        var cacheCounts: (hits: Int, misses: Int)? {
            guard let a = after.nodes.first(where: { $0.role == "frontend" }), let hits = a.cacheHits,
                let misses = a.cacheMisses
            else { return nil }
            let b = before?.nodes.first { $0.role == "frontend" }
            return (hits - (b?.cacheHits ?? 0), misses - (b?.cacheMisses ?? 0))
        }
    }

    static func seeds(_ cluster: BenchCluster) -> [CatalogSeed] {
        (try? cluster.local?.topology().seedBooks()) ?? CatalogSeed.original
    }

    static func load(_ cluster: BenchCluster, clients: Int, operations: [BenchOp], stop: BenchLoad.Stop) -> BenchLoad {
        let seeds = Self.seeds(cluster)
        return BenchLoad(
            clients: clients,
            operations: operations,
            stop: stop,
            items: seeds.map(\.item),
            topics: Array(Set(seeds.map(\.topic))).sorted()
        )
    }

    // MARK: Watching the nodes

    /// Runs `body`, but fails at once if a node of a local cluster exits during it (a crashed replica
    /// would otherwise show up only as slow or failed requests, or as clients waiting out their timeouts).
    static func watched<T: Sendable>(
        _ cluster: BenchCluster,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let local = cluster.local else { return try await body() }
        let running = LocalCluster.nodeNames.filter(local.isRunning)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(200))
                    if let dead = running.first(where: { !local.isRunning($0) }) {
                        throw BenchError(
                            "\(dead) exited during the run; see \(local.path("logs", "\(dead).log")) (run with --keep to keep it)"
                        )
                    }
                }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw CancellationError()
        }
    }

    // MARK: Experiment 1

    func latency(_ cluster: BenchCluster, clients: Int) async throws -> LatencyConfig {
        let before = try await cluster.status()
        var load = Self.load(
            cluster,
            clients: clients,
            operations: [.search, .lookup, .buy],
            stop: .rounds(settings.requests)
        )
        load.progress = progress
        let started = ContinuousClock.now
        let tally = try await Self.watched(cluster) { [load] in
            try await load.run(makeClient: { try cluster.client() }, admin: cluster.admin)
        }
        let elapsed = ContinuousClock.now - started
        let after = try await cluster.status()
        let diff = NodeDiff(before: before, after: after)
        let histograms = tally.merged()
        var rows: [LatencyRow] = []
        for op in BenchOp.allCases {
            guard let h = histograms[op] else { continue }
            rows.append(
                LatencyRow(
                    operation: op,
                    client: LatencyStats(h, distribution: true),
                    frontend: diff.tier("frontend", "frontend.\(op.rawValue)"),
                    catalog: diff.tier("catalog", op == .buy ? "catalog.hold" : "catalog.\(op.rawValue)"),
                    order: op == .buy ? diff.tier("order", "order.buy") : nil
                )
            )
        }
        let counts = diff.cacheCounts
        return LatencyConfig(
            cache: cluster.cache ?? ((counts?.hits ?? 0) > 0),
            clients: clients,
            requestsPerClientPerOperation: settings.requests,
            elapsedSeconds: elapsed.seconds,
            cacheHits: counts?.hits,
            cacheMisses: counts?.misses,
            errors: tally.allErrors(),
            rows: rows,
            nodeOperations: diff.allOperations()
        )
    }

    // MARK: Echo floor

    func echo(_ server: BenchEcho.ServerProcess) async throws -> EchoResults {
        let warmup = max(200, settings.echoCalls / 10)
        let raw = try await BenchEcho.rawLatency(port: server.rawPort, calls: settings.echoCalls, warmup: warmup)
        let rpc = try await BenchEcho.rpcLatency(port: server.rpcPort, calls: settings.echoCalls, warmup: warmup)
        let clients = BenchTargets.throughputClients
        let rate = try await BenchEcho.rpcThroughput(
            port: server.rpcPort,
            clients: clients,
            seconds: settings.echoThroughputSeconds
        )
        return EchoResults(
            rawSocket: LatencyStats(raw, distribution: true),
            pygmyRPC: LatencyStats(rpc, distribution: true),
            pygmyRPCCallsPerSecond: rate,
            throughputClients: clients
        )
    }

    // MARK: Experiment 2

    func hitMiss(_ cluster: BenchCluster) async throws -> HitMissResults {
        try await Self.watched(cluster) { try await hitMissUnwatched(cluster) }
    }

    private func hitMissUnwatched(_ cluster: BenchCluster) async throws -> HitMissResults {
        let seeds = Self.seeds(cluster)
        let client = try cluster.client()
        try await client.connect()
        // On the connection's own thread, as a latency-minded caller would run (see `RPCClient.executor`).
        return try await withTaskExecutorPreference(client.executor) {
            try await hitMissMeasured(cluster, client, seeds)
        }
    }

    private func hitMissMeasured(
        _ cluster: BenchCluster,
        _ client: RPCClient,
        _ seeds: [CatalogSeed]
    ) async throws -> HitMissResults {
        for seed in seeds {
            _ = try await client.call(Frontend.Lookup.self, LookupRequest(item: seed.item))
            _ = try await client.call(Frontend.Search.self, SearchRequest(topic: seed.topic))
        }
        var lookupHit = Histogram<UInt64>.micros()
        var lookupMiss = Histogram<UInt64>.micros()
        var searchHit = Histogram<UInt64>.micros()
        var searchMiss = Histogram<UInt64>.micros()
        var buy = Histogram<UInt64>.micros()
        var errors: [String: Int] = [:]
        let run = BenchRunID.next()
        let before = try await cluster.status()
        func timed(_ h: inout Histogram<UInt64>, _ name: String, _ body: () async throws -> Void) async {
            let start = ContinuousClock.now
            do {
                try await body()
                h.record(ContinuousClock.now - start)
            } catch {
                errors["\(name): \(Workload.kind(error))", default: 0] += 1
            }
            progress.tick()
        }
        for i in 0..<settings.hitMissIterations where !Task.isCancelled {
            let seed = seeds[i % seeds.count]
            let lookup = LookupRequest(item: seed.item)
            let search = SearchRequest(topic: seed.topic)
            await timed(&lookupHit, "lookup hit") { _ = try await client.call(Frontend.Lookup.self, lookup) }
            await timed(&searchHit, "search hit") { _ = try await client.call(Frontend.Search.self, search) }
            await timed(&buy, "buy") {
                _ = try await client.call(
                    Frontend.Buy.self,
                    BuyRequest(item: seed.item, quantity: 1, requestId: "\(run)-\(i)")
                )
            }
            await timed(&lookupMiss, "lookup miss") { _ = try await client.call(Frontend.Lookup.self, lookup) }
            await timed(&searchMiss, "search miss") { _ = try await client.call(Frontend.Search.self, search) }
        }
        let after = try await cluster.status()
        await client.close()
        let counts = NodeDiff(before: before, after: after).cacheCounts
        return HitMissResults(
            iterations: settings.hitMissIterations,
            lookupHit: LatencyStats(lookupHit, distribution: true),
            lookupMiss: LatencyStats(lookupMiss, distribution: true),
            searchHit: LatencyStats(searchHit, distribution: true),
            searchMiss: LatencyStats(searchMiss, distribution: true),
            buy: LatencyStats(buy, distribution: true),
            frontendHits: counts?.hits,
            frontendMisses: counts?.misses,
            errors: errors
        )
    }

    // MARK: Experiment 4

    func throughput(_ cluster: BenchCluster, workload: String, clients: Int) async throws -> ThroughputRun {
        let operations: [BenchOp] =
            switch workload {
            case "lookup": [.lookup]
            case "buy": [.buy]
            default: [.search, .lookup, .buy]
            }
        let warmup = Duration.milliseconds(Int64(settings.warmupSeconds * 1000))
        let measure = Duration.milliseconds(Int64(settings.throughputSeconds * 1000))
        var load = Self.load(
            cluster,
            clients: clients,
            operations: operations,
            stop: .duration(warmup: warmup, measure: measure)
        )
        load.progress = progress
        let tally = try await Self.watched(cluster) { [load] in
            try await load.run(makeClient: { try cluster.client() }, admin: cluster.admin)
        }
        var all = Histogram<UInt64>.micros()
        for h in tally.merged().values { all.add(h) }
        return ThroughputRun(
            workload: workload,
            clients: clients,
            seconds: measure.seconds,
            requests: tally.recorded,
            requestsPerSecond: Double(tally.recorded) / measure.seconds,
            latency: LatencyStats(all),
            errors: tally.allErrors()
        )
    }

    // MARK: Experiment 3

    func failover(_ cluster: BenchCluster) async throws -> FailoverResults {
        guard let local = cluster.local else { throw BenchError("failover needs a local cluster (not --frontend)") }
        let seeds = Self.seeds(cluster)
        let phase = BenchPhase()
        let flag = BenchFlag()
        let origin = ContinuousClock.now
        let bucket = Duration.milliseconds(100)
        var load = Self.load(
            cluster,
            clients: settings.failoverClients,
            operations: [.search, .lookup, .buy],
            stop: .flag(flag)
        )
        load.phase = phase
        load.timeline = (origin, bucket)
        load.progress = progress
        let running = Task { [load] in try await load.run(makeClient: { try cluster.client() }, admin: cluster.admin) }
        let hold = Duration.milliseconds(Int64(settings.failoverPhaseSeconds * 1000))
        var names = ["baseline"]
        var starts: [ContinuousClock.Instant] = [origin]
        var events: [FailoverEvent] = []
        var recoveries: [Recovery] = []
        func enter(_ name: String) {
            names.append(name)
            starts.append(.now)
            phase.set(names.count - 1)
        }
        func event(_ what: String) {
            events.append(FailoverEvent(atSeconds: (ContinuousClock.now - origin).seconds, what: what))
        }
        do {
            try await Task.sleep(for: hold)
            for (node, role) in [("catalog-1", NodeRole.catalog), ("order-1", NodeRole.order)] {
                enter("\(node) down")
                event("kill \(node)")
                try await local.crash(node)
                try await Task.sleep(for: hold)
                enter("\(node) restarting")
                event("restart \(node)")
                let restarted = ContinuousClock.now
                try local.start(node)
                let recovery = await probe(
                    local,
                    node: node,
                    role: role,
                    since: restarted,
                    admin: cluster.admin,
                    item: seeds[0].item
                )
                recoveries.append(recovery)
                event("\(node) serving")
                enter("\(node) back")
                try await Task.sleep(for: hold)
            }
        } catch {
            flag.set()
            _ = try? await running.value
            throw error
        }
        flag.set()
        let end = ContinuousClock.now
        let tally = try await running.value
        var phases: [FailoverPhase] = []
        for (index, name) in names.enumerated() {
            let seconds = ((index + 1 < starts.count ? starts[index + 1] : end) - starts[index]).seconds
            let histograms = tally.merged(phase: index)
            var all = Histogram<UInt64>.micros()
            for h in histograms.values { all.add(h) }
            phases.append(
                FailoverPhase(
                    name: name,
                    seconds: seconds,
                    requests: Int(all.totalCount),
                    errors: tally.allErrors(phase: index),
                    operations: Dictionary(
                        uniqueKeysWithValues: histograms.map { ($0.key.rawValue, LatencyStats($0.value)) }
                    ),
                    all: LatencyStats(all)
                )
            )
        }
        let lastBucket = tally.buckets.keys.max() ?? 0
        let timeline = (0...lastBucket).map { index -> TimelineBucket in
            let b = tally.buckets[index] ?? BenchLoad.Tally.Bucket()
            return TimelineBucket(
                startSeconds: Double(index) * bucket.seconds,
                completed: b.completed,
                errors: b.errors,
                meanMicros: b.completed == 0 ? 0 : b.sumMicros / Double(b.completed),
                maxMicros: b.maxMicros
            )
        }
        return FailoverResults(
            clients: settings.failoverClients,
            phases: phases,
            events: events,
            recoveries: recoveries,
            bucketMillis: Int(bucket.milliseconds),
            timeline: timeline
        )
    }

    /// Polls a restarted node until it answers, serves, and the frontend counts it up (30 s at most).
    private func probe(
        _ local: LocalCluster,
        node: String,
        role: NodeRole,
        since: ContinuousClock.Instant,
        admin: RPCClient,
        item: ItemID
    ) async -> Recovery {
        var recovery = Recovery(node: node)
        func millis() -> Double { (ContinuousClock.now - since).milliseconds }
        var client: RPCClient?
        var lastStatus = since
        let deadline = since + .seconds(30)
        while ContinuousClock.now < deadline
            && (recovery.listeningMillis == nil || recovery.servingMillis == nil
                || recovery.frontendSeesUpMillis == nil)
        {
            if client == nil, let fresh = try? local.client(node, timeout: .milliseconds(500)) {
                // A new client each time: a failed connect would put a reused one in backoff.
                if (try? await fresh.call(NodeMethods.Health.self, Empty(), timeout: .milliseconds(300))) != nil {
                    recovery.listeningMillis = millis()
                    client = fresh
                } else {
                    await fresh.close()
                }
            }
            if let client, recovery.servingMillis == nil,
                let health = try? await client.call(NodeMethods.Health.self, Empty(), timeout: .milliseconds(300)),
                health.state == "ready"
            {
                var serving = true
                if role == .catalog {
                    let lookup = try? await client.call(
                        Catalog.Lookup.self,
                        LookupRequest(item: item),
                        timeout: .milliseconds(300)
                    )
                    serving = lookup != nil
                }
                if serving { recovery.servingMillis = millis() }
            }
            if recovery.frontendSeesUpMillis == nil && ContinuousClock.now - lastStatus >= .milliseconds(20) {
                lastStatus = .now
                if let status = try? await admin.call(Frontend.Status.self, Empty(), timeout: .seconds(2)),
                    status.nodes.first(where: { $0.role == "frontend" })?.peersUp.contains(node) == true
                {
                    recovery.frontendSeesUpMillis = millis()
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        await client?.close()
        return recovery
    }
}
