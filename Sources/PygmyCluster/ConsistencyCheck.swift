import PygmyBookstore
import PygmyNodes
import PygmyRPC

/// Checks the cluster's durable state against what clients were told: every acknowledged buy is in the
/// order log exactly once, both order logs agree, and every catalog replica's stock equals seed stock
/// plus restocks minus ordered copies, with no copies left held.
public struct ConsistencyCheck: Sendable {
    /// One line per violation.
    public var problems: [String] = []
    /// Orders in the first order replica's log.
    public var orders = 0

    /// CONSISTENT or INCONSISTENT.
    public var verdict: String { problems.isEmpty ? "CONSISTENT" : "INCONSISTENT" }

    /// Reads both order logs and both catalogs' stock directly from the replicas and checks them against
    /// the buys the clients were told succeeded (`acknowledged` request ids) and the copies restocked.
    public static func run(
        cluster: LocalCluster,
        acknowledged: [String],
        restocked: [ItemID: Int],
        seeds: [CatalogSeed]
    ) async throws -> ConsistencyCheck {
        var check = ConsistencyCheck()
        var logs: [String: [OrderRecord]] = [:]
        for name in ["order-1", "order-2"] {
            // The replicas' own methods are for nodes (docs/SECURITY.md): read them as the frontend does.
            let client = try cluster.client(name, certificateRole: "frontend")
            logs[name] = try await client.call(Order.List.self, OrdersRequest()).orders
            await client.close()
        }
        let log = logs["order-1"] ?? []
        check.orders = log.count
        if logs["order-1"] != logs["order-2"] {
            check.problems.append(
                "order logs differ: order-1 has \(log.count), order-2 has \(logs["order-2"]?.count ?? 0)"
            )
        }
        var byRequest: [String: Int] = [:]
        for record in log { byRequest[record.requestId, default: 0] += 1 }
        for (id, count) in byRequest where count > 1 { check.problems.append("request \(id) ordered \(count) times") }
        let missing = acknowledged.filter { byRequest[$0] == nil }
        if !missing.isEmpty { check.problems.append("\(missing.count) acknowledged buys missing from the log") }
        for name in ["catalog-1", "catalog-2"] {
            let client = try cluster.client(name, certificateRole: "frontend")
            let status = try await client.call(NodeMethods.Health.self, Empty())
            await client.close()
            for seed in seeds {
                let sold = log.filter { $0.item == seed.item }.map(\.quantity).reduce(0, +)
                let expected = seed.stock + (restocked[seed.item] ?? 0) - sold
                let actual = status.stock?.first { $0.item == seed.item }
                if actual?.onHand != expected {
                    check.problems.append(
                        "\(name) item \(seed.item): stock \(actual?.onHand ?? -1), expected \(expected)"
                    )
                }
                if let held = actual?.held, held != 0 {
                    check.problems.append("\(name) item \(seed.item): \(held) copies still held")
                }
                if let onHand = actual?.onHand, onHand < 0 {
                    check.problems.append("\(name) item \(seed.item): negative stock")
                }
            }
        }
        return check
    }
}
