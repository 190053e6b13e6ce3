import Foundation
import Logging
import NIOCore
import NIOPosix
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Testing

/// An in-process cluster on loopback ports: one frontend, two catalog and two order replicas, each
/// with its own SQLite directory under a fresh temporary directory.
final class TestCluster: @unchecked Sendable {
    let directory: String
    let topology: Topology
    private(set) var nodes: [String: PygmyNode] = [:]
    let client: RPCClient

    static let names = ["frontend", "catalog-1", "catalog-2", "order-1", "order-2"]

    /// - Parameter metrics: give every node a metrics endpoint on a free port (`metricsPort` 0).
    init(cache: Bool = true, metrics: Bool = false) async throws {
        directory = NSTemporaryDirectory() + "pygmy-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ports = try await Self.freePorts(5)
        var specs: [NodeSpec] = []
        for (index, name) in Self.names.enumerated() {
            let role: NodeRole = name == "frontend" ? .frontend : (name.hasPrefix("catalog") ? .catalog : .order)
            specs.append(
                NodeSpec(
                    name: name,
                    role: role,
                    host: "127.0.0.1",
                    port: ports[index],
                    dataDir: role == .frontend ? nil : "data/\(name)",
                    cache: role == .frontend ? cache : nil,
                    metricsPort: metrics ? 0 : nil
                )
            )
        }
        var topology = Topology(nodes: specs, baseDirectory: directory)
        topology.heartbeatMillis = 100
        topology.holdTimeoutMillis = 1000
        try topology.validate()
        self.topology = topology
        client = RPCClient(
            host: "127.0.0.1",
            port: ports[0],
            configuration: .defaults {
                $0.defaultTimeout = .seconds(15)
                $0.backoff.initial = .milliseconds(10)
            }
        )
        for name in Self.names { try await start(name) }
        try await waitUntilHealthy()
    }

    static func freePorts(_ count: Int) async throws -> [Int] {
        var channels: [any Channel] = []
        for _ in 0..<count {
            channels.append(
                try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0)
                    .get()
            )
        }
        let ports = channels.map { $0.localAddress!.port! }
        for channel in channels { try await channel.close() }
        return ports
    }

    func start(_ name: String) async throws {
        var logger = Logger(label: "pygmy.test.\(name)")
        logger.logLevel = ProcessInfo.processInfo.environment["PYGMY_TEST_LOG"] != nil ? .debug : .critical
        let node = try PygmyNode(name: name, topology: topology, logger: logger)
        try await node.start()
        nodes[name] = node
    }

    /// Stops a node abruptly (no drain, no goodbye); its SQLite files stay.
    func crash(_ name: String) async {
        await nodes.removeValue(forKey: name)?.crash()
    }

    func restart(_ name: String) async throws {
        try await start(name)
        try await waitUntilHealthy()
    }

    /// Waits until the frontend sees every running node up and every catalog replica is ready.
    func waitUntilHealthy(timeout: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try? await client.call(Frontend.Status.self, Empty(), timeout: .seconds(2)) {
                let running = Set(nodes.keys)
                let healthy = status.nodes.filter { running.contains($0.name) && $0.state == "ready" }
                let frontendSeesAll =
                    status.nodes.first { $0.name == "frontend" }.map { front in
                        running.subtracting(["frontend"]).isSubset(of: Set(front.peersUp))
                    } ?? false
                if healthy.count == running.count && frontendSeesAll { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TopologyError("cluster did not become healthy within \(timeout)")
    }

    func catalog(_ name: String) -> CatalogNode { nodes[name]!.catalog! }
    func order(_ name: String) -> OrderNode { nodes[name]!.order! }

    func shutdown() async {
        await client.close()
        for node in nodes.values { await node.stop() }
        nodes.removeAll()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` against a fresh cluster and always shuts it down.
    static func with<T>(
        cache: Bool = true,
        metrics: Bool = false,
        _ body: (TestCluster) async throws -> T
    ) async throws -> T {
        let cluster = try await TestCluster(cache: cache, metrics: metrics)
        do {
            let result = try await body(cluster)
            await cluster.shutdown()
            return result
        } catch {
            await cluster.shutdown()
            throw error
        }
    }

    // MARK: Client shorthands

    func lookup(_ item: ItemID) async throws -> Book {
        try await client.call(Frontend.Lookup.self, LookupRequest(item: item))
    }

    func search(_ topic: String) async throws -> [BookSummary] {
        try await client.call(Frontend.Search.self, SearchRequest(topic: topic)).items
    }

    func buy(_ item: ItemID, quantity: Int = 1, requestId: String = UUID().uuidString) async throws -> BuyResponse {
        try await client.call(Frontend.Buy.self, BuyRequest(item: item, quantity: quantity, requestId: requestId))
    }

    func status() async throws -> ClusterStatus {
        try await client.call(Frontend.Status.self, Empty())
    }

    /// On-hand stock of `item` at each catalog replica.
    func stockAtReplicas(_ item: ItemID) async -> [String: Int] {
        var out: [String: Int] = [:]
        for name in ["catalog-1", "catalog-2"] where nodes[name] != nil {
            out[name] = await catalog(name).inventory()[item]?.onHand
        }
        return out
    }

    /// Waits until `condition` holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }
}

func bookstoreCode(_ error: any Error) -> BookstoreError.Code? {
    guard let rpc = error as? RPCError else { return nil }
    return BookstoreError.Code(rawValue: rpc.code.rawValue)
}
