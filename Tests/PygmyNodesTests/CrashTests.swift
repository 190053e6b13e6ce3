import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Synchronization
import Testing

struct SimulatedCrash: Error {}

/// Remembers which order replica tripped the fault hook first.
final class Trip: Sendable {
    let victim = Mutex<String?>(nil)

    func claim(_ name: String) -> Bool {
        victim.withLock {
            guard $0 == nil else { return false }
            $0 = name
            return true
        }
    }
}

@Suite(.serialized) struct CrashTests {
    /// Waits until both catalog replicas hold `onHand` copies of `item` and none are held, and both
    /// order logs are identical.
    func converged(_ cluster: TestCluster, item: ItemID, onHand: Int) async -> Bool {
        await cluster.eventually(timeout: .seconds(15)) {
            let c1 = await cluster.catalog("catalog-1").inventory()[item]
            let c2 = await cluster.catalog("catalog-2").inventory()[item]
            let o1 = try? cluster.order("order-1").orders()
            let o2 = try? cluster.order("order-2").orders()
            return c1?.onHand == onHand && c2?.onHand == onHand && c1?.held == 0 && c2?.held == 0 && o1 != nil
                && o1 == o2
        }
    }

    /// The original report's crash experiment: 9 buys of book 1 while catalog replica 1 is killed after
    /// 4 buys and restarted, then replica 2 is killed and restarted after the 9th.
    @Test func theOriginalCrashExperiment() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            var orders: [BuyResponse] = []
            for n in 1...9 {
                orders.append(try await cluster.buy(1))
                if n == 4 { await cluster.crash("catalog-1") }
                if n == 6 { try await cluster.restart("catalog-1") }
            }
            await cluster.crash("catalog-2")
            try await cluster.restart("catalog-2")
            #expect(orders.count == 9)
            #expect(Set(orders.map(\.order)).count == 9)
            #expect(await converged(cluster, item: 1, onHand: 1))
            #expect(try await cluster.lookup(1).stock == 1)
        }
    }

    /// A coordinator dies at each step of the buy protocol; the client's retry through the frontend
    /// must end with exactly one order, and every replica must agree once the node is back.
    @Test(arguments: OrderNode.BuyStep.allCases)
    func coordinatorCrashesInsideTheBuyProtocol(_ step: OrderNode.BuyStep) async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            let trip = Trip()
            for name in ["order-1", "order-2"] {
                await cluster.order(name).setFaultHook { reached in
                    if reached == step, trip.claim(name) { throw SimulatedCrash() }
                }
            }
            let id = "crash-\(step.rawValue)"
            let buy = Task { try await cluster.buy(1, quantity: 2, requestId: id) }
            #expect(await cluster.eventually { trip.victim.withLock { $0 } != nil })
            let victim = try #require(trip.victim.withLock { $0 })
            await cluster.crash(victim)
            try await cluster.restart(victim)
            let order = try await buy.value
            #expect(order.quantity == 2 && order.requestId == id)
            #expect(await converged(cluster, item: 1, onHand: 8))
            let log = try cluster.order("order-1").orders()
            #expect(log.filter { $0.requestId == id }.count == 1)
            // A later retry of the same id returns the same order.
            #expect(try await cluster.buy(1, quantity: 2, requestId: id).decided == order.decided)
        }
    }

    @Test func buysKeepWorkingWithOneCatalogAndOneOrderReplicaDown() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            await cluster.crash("catalog-2")
            await cluster.crash("order-1")
            #expect(try await cluster.search("graduate school").count == 2)
            for _ in 0..<3 { _ = try await cluster.buy(3) }
            #expect(try await cluster.lookup(3).stock == 7)
            try await cluster.restart("catalog-2")
            try await cluster.restart("order-1")
            #expect(await converged(cluster, item: 3, onHand: 7))
        }
    }
}
