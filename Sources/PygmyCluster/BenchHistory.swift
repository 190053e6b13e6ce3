import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyWire

/// Issue 14's experiment ("a store that runs for years"): for each history size, a new local cluster
/// whose replicas start with that many orders already stored (`BenchHistoryData`, written through
/// `HistoryLoader`), then per replica its memory after start-up, the time a killed catalog and a killed
/// order replica take to be ready again, and the size of what a rejoin or an anti-entropy pull fetches.
struct BenchHistory: Sendable {
    let sizes: [Int]
    /// Where the clusters' directories go (one per size, removed afterwards unless `keep`).
    let parent: String
    let keep: Bool
    let progress: BenchProgress

    /// Orders per `HistoryLoader` transaction (at an order replica two mutations each).
    static let batchOrders = 5_000

    /// How long a start or a restart may take before the bench gives up on it: 30 s plus 1 s per 20,000
    /// orders (130 s for 2M).
    static func timeout(orders: Int) -> Duration { .seconds(30 + orders / 20_000) }

    /// Measures every size in turn; returns the figures and the next base port to try.
    func run(basePort: Int) async throws -> (HistoryResults, Int) {
        var results = HistoryResults()
        var port = basePort
        for orders in sizes {
            let (point, next) = try await measure(orders: orders, basePort: port)
            results.points.append(point)
            port = next
        }
        return (results, port)
    }

    /// One size: a cluster of its own, loaded, started, measured and stopped.
    func measure(orders: Int, basePort: Int) async throws -> (HistoryPoint, Int) {
        let base = try RawSocket.freeBase(from: basePort)
        let directory = (parent as NSString).appendingPathComponent("history-\(orders)")
        try? FileManager.default.removeItem(atPath: directory)
        let local = try LocalCluster.create(directory: directory, basePort: base, tls: false, cache: true)
        BenchCleanup.track(local)
        defer {
            BenchCleanup.untrack(local)
            if !keep { try? FileManager.default.removeItem(atPath: directory) }
        }
        let topology = try local.topology()
        let data = BenchHistoryData(
            orders: orders,
            seeds: try topology.seedBooks(),
            orderReplicas: topology.nodes(.order).map(\.name),
            batchOrders: Self.batchOrders
        )
        let replicas = (topology.nodes(.catalog) + topology.nodes(.order)).map {
            (name: $0.name, role: $0.role, directory: topology.resolve($0.dataDir ?? $0.name))
        }
        progress.stage("history \(orders): loading orders into 4 replicas", total: orders)
        let loadStart = ContinuousClock.now
        try await Self.onThread { [progress] in try data.write(directories: replicas, progress: progress) }
        let loadSeconds = (ContinuousClock.now - loadStart).seconds
        progress.stage("history \(orders): start, memory, answer sizes, restarts")
        let admin = try local.client(certificateRole: "admin", timeout: .seconds(15))
        do {
            let point = try await measureRunning(local, data, admin: admin, replicas: replicas.map(\.name))
            await admin.close()
            await local.stopAll()
            var complete = point
            complete.loadSeconds = loadSeconds
            return (complete, base + 5)
        } catch {
            await admin.close()
            await local.stopAll()
            throw error
        }
    }

    private func measureRunning(
        _ local: LocalCluster,
        _ data: BenchHistoryData,
        admin: RPCClient,
        replicas: [String]
    ) async throws -> HistoryPoint {
        let timeout = Self.timeout(orders: data.orders)
        var problems: [String] = []
        let started = ContinuousClock.now
        for name in local.names { try local.start(name) }
        var startSeconds: Double?
        do {
            try await local.waitUntilHealthy(timeout: timeout, client: admin, everyNode: true)
            startSeconds = (ContinuousClock.now - started).seconds
        } catch {
            problems.append("start: \(error)")
        }
        // Heartbeats and the first anti-entropy rounds settle before memory is read.
        try await Task.sleep(for: .seconds(1))
        var rss: [String: Int] = [:]
        for name in replicas { rss[name] = local.pid(name).flatMap(Self.rssKiB) }
        problems += await BenchHistoryCheck(local: local, data: data, admin: admin).problems()
        let answers = await answerSizes(local)
        var restarts: [HistoryRestart] = []
        for name in ["catalog-1", "order-1"] where replicas.contains(name) {
            restarts.append(try await restart(local, name, timeout: timeout))
            // The next restart starts from a healthy cluster, if it ever was one (else waiting is futile).
            guard startSeconds != nil else { continue }
            do {
                try await local.waitUntilHealthy(timeout: timeout, client: admin)
            } catch {
                problems.append("after restarting \(name): \(error)")
            }
        }
        let check = BenchHistoryCheck(local: local, data: data, admin: admin)
        if startSeconds != nil {
            problems += await check.problems().map { "after the restarts: \($0)" }
        }
        let paging = await check.pageThroughLog()
        if let error = paging.error { problems.append("paging: \(error)") }
        if paging.orders != data.orders || paging.repeated > 0 {
            problems.append("paging: \(paging.orders) distinct orders of \(data.orders), \(paging.repeated) repeated")
        }
        var point = HistoryPoint(
            orders: data.orders,
            loadSeconds: 0,
            batchOrders: data.batchOrders,
            startSeconds: startSeconds,
            rssKiB: rss,
            answers: answers,
            restarts: restarts,
            paging: paging,
            consistent: problems.isEmpty,
            problems: problems
        )
        point.deriveTransfers()
        return point
    }

    /// The answers rejoin and anti-entropy fetch, from every replica, encoded as the nodes send them.
    private func answerSizes(_ local: LocalCluster) async -> [HistoryAnswer] {
        var answers: [HistoryAnswer] = []
        // Order replicas syncing ask for the orders since the catalogs' folded horizon (PROTOCOL.md §6.7).
        var folded: Int64?
        for name in local.names.sorted() where name != "frontend" {
            let isCatalog = name.hasPrefix("catalog")
            var answer = HistoryAnswer(node: name, method: isCatalog ? Catalog.Snapshot.name : Order.List.name)
            let client: RPCClient
            do {
                client = try local.client(
                    name,
                    certificateRole: "admin",
                    timeout: .seconds(120),
                    maxFrameLength: 1 << 30
                )
            } catch {
                answer.error = "\(error)"
                answers.append(answer)
                continue
            }
            let start = ContinuousClock.now
            do {
                if isCatalog {
                    let snapshot = try await client.call(Catalog.Snapshot.self, SnapshotRequest())
                    answer.millis = (ContinuousClock.now - start).milliseconds
                    folded = max(folded ?? 0, snapshot.folded?.before ?? 0)
                    answer.bytes = try BinaryEncoder().encode(snapshot).count
                } else {
                    let log = try await client.call(
                        Order.List.self,
                        OrdersRequest(since: folded.flatMap { $0 > 0 ? $0 : nil })
                    )
                    answer.millis = (ContinuousClock.now - start).milliseconds
                    answer.bytes = try BinaryEncoder().encode(log).count
                }
            } catch {
                answer.error = "\(error)"
            }
            await client.close()
            answers.append(answer)
        }
        return answers
    }

    /// Kills `name` (SIGKILL), starts it again on the same data directory and times it until it answers
    /// `node.health` and until it reports `ready`.
    private func restart(_ local: LocalCluster, _ name: String, timeout: Duration) async throws -> HistoryRestart {
        try await local.crash(name)
        let since = ContinuousClock.now
        try local.start(name)
        var result = HistoryRestart(node: name, timeoutSeconds: timeout.seconds)
        func millis() -> Double { (ContinuousClock.now - since).milliseconds }
        var client: RPCClient?
        while ContinuousClock.now - since < timeout && result.readyMillis == nil {
            if client == nil, let fresh = try? local.client(name, timeout: .seconds(1)) {
                // A new client each time: a failed connect would put a reused one in backoff.
                if (try? await fresh.call(NodeMethods.Heartbeat.self, HealthRequest(latencies: false))) != nil {
                    result.listeningMillis = millis()
                    client = fresh
                } else {
                    await fresh.close()
                }
            }
            if let client,
                let health = try? await client.call(NodeMethods.Heartbeat.self, HealthRequest(latencies: false)),
                health.state == "ready"
            {
                result.readyMillis = millis()
            }
            if result.readyMillis == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        await client?.close()
        result.rssKiB = local.pid(name).flatMap(Self.rssKiB)
        return result
    }

    /// VmRSS of process `pid`, in KiB (nil if it is gone).
    static func rssKiB(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
    }

    /// Runs blocking work on a thread of its own, so no thread of the cooperative pool waits for it.
    static func onThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}

extension HistoryPoint {
    /// The transfers of a rejoin and of one anti-entropy pull, from the answers' sizes (catalog-1 and
    /// order-1 as the replicas that rejoin).
    mutating func deriveTransfers() {
        let orderLogs = answers.filter { $0.method == Order.List.name }
        let catalogPeer = answers.first { $0.method == Catalog.Snapshot.name && $0.node != "catalog-1" }
        let orderPeers = orderLogs.filter { $0.node != "order-1" }
        if let snapshot = catalogPeer?.bytes, orderLogs.allSatisfy({ $0.bytes != nil }) {
            catalogRejoinBytes = snapshot + orderLogs.compactMap(\.bytes).reduce(0, +)
        }
        if !orderPeers.isEmpty, orderPeers.allSatisfy({ $0.bytes != nil }) {
            orderRejoinBytes = orderPeers.compactMap(\.bytes).reduce(0, +)
        }
        catalogAntiEntropyBytes = catalogPeer?.bytes
        orderAntiEntropyBytes = orderPeers.first?.bytes
    }
}
