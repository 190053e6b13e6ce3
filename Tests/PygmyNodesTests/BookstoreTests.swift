import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Testing

@Suite(.serialized) struct BookstoreTests {
    @Test func searchAndLookupEveryBookAndUnknownsAreErrors() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            #expect(try await cluster.search("distributed systems").map(\.item) == [1, 2])
            #expect(try await cluster.search("graduate school").map(\.item) == [3, 4])
            for seed in CatalogSeed.original {
                let book = try await cluster.lookup(seed.item)
                #expect(
                    book
                        == Book(
                            item: seed.item,
                            title: seed.title,
                            topic: seed.topic,
                            stock: seed.stock,
                            cost: seed.cost
                        )
                )
            }
            await #expect { _ = try await cluster.lookup(99) } throws: { bookstoreCode($0) == .unknownItem }
            await #expect { _ = try await cluster.search("cooking") } throws: { bookstoreCode($0) == .unknownTopic }
        }
    }

    @Test func buyUntilOutOfStockThenRestockAndBuyAgain() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            for n in 1...4 {
                let order = try await cluster.buy(2)
                #expect(order.item == 2 && order.quantity == 1 && order.cost == 40)
                #expect(try await cluster.lookup(2).stock == 4 - n)
            }
            await #expect { _ = try await cluster.buy(2) } throws: { bookstoreCode($0) == .outOfStock }
            #expect(try await cluster.lookup(2).stock == 0)
            let restocked = try await cluster.client.call(
                Frontend.Restock.self,
                RestockRequest(item: 2, count: 3, opId: UUID().uuidString)
            )
            #expect(restocked.stock == 3)
            #expect(try await cluster.buy(2, quantity: 3).cost == 120)
            #expect(try await cluster.lookup(2).stock == 0)
            let replicas = await cluster.stockAtReplicas(2)
            #expect(replicas == ["catalog-1": 0, "catalog-2": 0])
        }
    }

    @Test func costChangeIsVisibleThroughLookup() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            _ = try await cluster.lookup(3)  // cache it
            let changed = try await cluster.client.call(
                Frontend.SetCost.self,
                SetCostRequest(item: 3, cost: 80, opId: UUID().uuidString, version: 1)
            )
            #expect(changed.cost == 80)
            #expect(try await cluster.lookup(3).cost == 80)
            #expect(try await cluster.buy(3, quantity: 2).cost == 160)
        }
    }

    @Test func cacheHitThenInvalidationOnBuyThenMissWithNewStock() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            func counts() async throws -> (Int, Int) {
                let front = try await cluster.status().nodes.first { $0.name == "frontend" }!
                return (front.cacheHits ?? -1, front.cacheMisses ?? -1)
            }
            let (hits0, misses0) = try await counts()
            #expect(try await cluster.lookup(1).stock == 10)  // miss
            #expect(try await cluster.lookup(1).stock == 10)  // hit
            var (hits, misses) = try await counts()
            #expect(hits == hits0 + 1 && misses == misses0 + 1)
            _ = try await cluster.buy(1)
            #expect(try await cluster.lookup(1).stock == 9)  // miss after invalidation, fresh stock
            (hits, misses) = try await counts()
            #expect(hits == hits0 + 1 && misses == misses0 + 2)
        }
    }

    @Test func tenConcurrentBuyersSellExactlyTheStock() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        var sold = 0
                        for _ in 0..<3 {
                            do {
                                _ = try await cluster.buy(4)
                                sold += 1
                            } catch  where bookstoreCode(error) == .outOfStock {}
                        }
                        return sold > 0
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.count == 10)
            let orders = try await cluster.client.call(Frontend.Orders.self, OrdersRequest()).orders
            #expect(orders.filter { $0.item == 4 }.count == 5)
            #expect(try await cluster.lookup(4).stock == 0)
            #expect(await cluster.stockAtReplicas(4) == ["catalog-1": 0, "catalog-2": 0])
        }
    }

    @Test func retryingARequestIdReturnsTheOriginalOrderAtEitherReplica() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            let id = "retry-\(UUID().uuidString)"
            let first = try await cluster.buy(1, quantity: 2, requestId: id)
            let again = try await cluster.buy(1, quantity: 2, requestId: id)
            #expect(again.replayed == true && first.replayed == nil)
            #expect(again.decided == first)
            // Straight at both order replicas, bypassing the frontend.
            for name in ["order-1", "order-2"] {
                let node = try cluster.topology.node(named: name)
                let direct = RPCClient(host: node.host, port: node.port)
                let answer = try await direct.call(Order.Buy.self, BuyRequest(item: 1, quantity: 2, requestId: id))
                #expect(answer.decided == first && answer.replayed == true)
                await direct.close()
            }
            #expect(try await cluster.lookup(1).stock == 8)
            let orders = try await cluster.client.call(Frontend.Orders.self, OrdersRequest()).orders
            #expect(orders.filter { $0.requestId == id }.count == 1)
        }
    }

    @Test func badArgumentsAreRefusedClearly() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            await #expect { _ = try await cluster.buy(1, quantity: 0) } throws: { bookstoreCode($0) == .invalidValue }
            await #expect { _ = try await cluster.buy(1, quantity: -3) } throws: { bookstoreCode($0) == .invalidValue }
            await #expect { _ = try await cluster.buy(0) } throws: { bookstoreCode($0) == .unknownItem }
            await #expect { _ = try await cluster.buy(77) } throws: { bookstoreCode($0) == .unknownItem }
            #expect(try await cluster.lookup(1).stock == 10)
        }
    }
}
