import ArgumentParser
import Foundation
import PygmyBookstore
import PygmyCluster
import PygmyNodes
import PygmyRPC

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The original store's story in one command.",
        discussion: """
            Starts a local cluster, runs concurrent clients doing search, lookup and buy, crashes a catalog
            replica (SIGKILL) and restarts it mid-run, then prints the per-tier latency table, the cache hit
            rate and a consistency verdict, and shuts everything down. Exits non-zero if the cluster's state
            is inconsistent with what the clients were told.
            """
    )

    @Option(name: .long, help: "Concurrent clients.")
    var clients = 5

    @Option(name: .long, help: "Requests per client.")
    var requests = 400

    @Option(name: .long, help: "First of five consecutive ports.")
    var basePort = 7200

    @Option(name: .long, help: "Directory for the cluster (default: a fresh temporary directory, removed afterwards).")
    var dir: String?

    @Flag(name: .long, help: "Mutual TLS on every connection.")
    var tls = false

    @Flag(name: .long, help: "Keep the cluster directory (logs, databases) afterwards.")
    var keep = false

    func validate() throws {
        guard clients >= 1, clients <= 200 else { throw ValidationError("--clients must be 1...200") }
        guard requests >= 10 else { throw ValidationError("--requests must be at least 10") }
    }

    func run() async throws {
        try await reporting(json: false) { _ in
            let directory = dir ?? (NSTemporaryDirectory() + "pygmy-demo-\(UUID().uuidString.prefix(8))")
            let cluster = try LocalCluster.create(directory: directory, basePort: basePort, tls: tls, cache: true)
            print(
                "Starting a cluster in \(directory): 1 frontend, 2 catalog and 2 order replicas\(tls ? ", mutual TLS" : "")"
            )
            for name in LocalCluster.nodeNames { try cluster.start(name) }
            do {
                try await story(cluster)
            } catch {
                await cluster.stopAll()
                throw error
            }
            await cluster.stopAll()
            if !keep && dir == nil { try? FileManager.default.removeItem(atPath: directory) }
        }
    }

    private func story(_ cluster: LocalCluster) async throws {
        let control = try cluster.client(certificateRole: "admin")
        try await cluster.waitUntilHealthy(client: control, everyNode: true)
        let seeds = try cluster.topology().seedBooks()
        let workload = Workload(items: seeds.map(\.item))
        let total = clients * requests
        print("\(clients) clients × \(requests) requests (search, lookup, buy in equal parts)…")

        let faults = Task {
            // Crash catalog-1 a third of the way through, restart it at two thirds.
            while workload.completed.load(ordering: .relaxed) < total / 3 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await cluster.crash("catalog-1")
            print("  ✗ catalog-1 killed (SIGKILL) after \(workload.completed.load(ordering: .relaxed)) requests")
            while workload.completed.load(ordering: .relaxed) < 2 * total / 3 {
                try await Task.sleep(for: .milliseconds(5))
            }
            let restart = ContinuousClock.now
            try cluster.start("catalog-1")
            let probe = try cluster.client("catalog-1")
            while (try? await probe.call(NodeMethods.Health.self, Empty(), timeout: .milliseconds(200)))?.state
                != "ready"
            {
                try await Task.sleep(for: .milliseconds(10))
            }
            await probe.close()
            print(
                "  ✓ catalog-1 restarted and resynchronised in \(Int((ContinuousClock.now - restart).milliseconds)) ms"
            )
        }
        let started = ContinuousClock.now
        try await workload.run(
            clients: clients,
            requestsPerClient: requests,
            mix: .init(),
            client: { try cluster.client() },
            admin: control
        )
        let elapsed = ContinuousClock.now - started
        try await faults.value
        try await cluster.waitUntilHealthy(client: control)
        try await Task.sleep(for: .milliseconds(500))  // let anti-entropy settle

        let status = try await control.call(Frontend.Status.self, Empty())
        print("")
        print(LatencyTable.render(workload: workload, status: status))
        let front = status.nodes.first { $0.role == "frontend" }
        let hits = front?.cacheHits ?? 0
        let misses = front?.cacheMisses ?? 0
        let rate = hits + misses == 0 ? 0 : Double(hits) * 100 / Double(hits + misses)
        print(String(format: "Cache: %d hits, %d misses (%.1f%% hit rate)", hits, misses, rate))
        let buys = workload.buys
        let acked = buys.filter(\.acknowledged).map(\.requestId)
        print(
            "Requests: \(total) in \(String(format: "%.2f", elapsed.seconds)) s; buys acknowledged \(acked.count), "
                + "refused \(buys.count - acked.count); client errors: \(workload.errorCounts.isEmpty ? "none" : "\(workload.errorCounts)")"
        )
        let check = try await ConsistencyCheck.run(
            cluster: cluster,
            acknowledged: acked,
            restocked: workload.restocked.withLock { $0 },
            seeds: seeds
        )
        await control.close()
        print(
            "Consistency: \(check.verdict) — \(check.orders) orders in both logs; stock on both catalog replicas = seed + restocks − orders"
        )
        for problem in check.problems { print("  ! \(problem)") }
        if !check.problems.isEmpty { throw ExitCode(1) }
    }
}

/// The original report's layout: one row per function, one column per tier (mean / p50 / p99, in ms).
enum LatencyTable {
    static func render(workload: Workload, status: ClusterStatus) -> String {
        func node(_ role: String) -> [NodeStatus] { status.nodes.filter { $0.role == role } }
        func merged(_ nodes: [NodeStatus], _ op: String) -> LatencySummary? {
            let all = nodes.flatMap(\.latencies).filter { $0.operation == op }
            guard !all.isEmpty else { return nil }
            let count = all.map(\.count).reduce(0, +)
            let mean = all.map { $0.meanMicros * Double($0.count) }.reduce(0, +) / Double(max(1, count))
            return LatencySummary(
                operation: op,
                count: count,
                meanMicros: mean,
                p50Micros: all.map(\.p50Micros).max() ?? 0,
                p99Micros: all.map(\.p99Micros).max() ?? 0
            )
        }
        func cell(_ s: LatencySummary?) -> String {
            guard let s else { return "-".padding(22) }
            return String(
                format: "%6.3f / %6.3f / %6.3f",
                s.meanMicros / 1000,
                Double(s.p50Micros) / 1000,
                Double(s.p99Micros) / 1000
            )
            .padding(22)
        }
        var lines = [
            "Response time in ms (mean / p50 / p99); tiers measured by the nodes themselves",
            "Function  " + ["Client", "Frontend", "Catalog", "Order"].map { $0.padding(22) }.joined(separator: " "),
        ]
        let rows: [(Workload.Operation, String, String?)] = [
            (.search, "catalog.search", nil), (.lookup, "catalog.lookup", nil), (.buy, "catalog.hold", "order.buy"),
        ]
        for (op, catalogOp, orderOp) in rows {
            let cells = [
                cell(workload.summary(op)),
                cell(merged(node("frontend"), "frontend.\(op.rawValue)")),
                cell(merged(node("catalog"), catalogOp)),
                cell(orderOp.flatMap { merged(node("order"), $0) }),
            ]
            lines.append(op.rawValue.padding(10) + cells.joined(separator: " "))
        }
        lines.append("(catalog column for buy: the hold phase; search and lookup at the catalog are cache misses only)")
        return lines.joined(separator: "\n")
    }
}
