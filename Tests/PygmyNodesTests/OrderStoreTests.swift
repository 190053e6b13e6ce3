import Foundation
import PygmyBookstore
import Testing

@testable import PygmyNodes

/// `OrderStore`: a restart loads the counters and the recent orders only, yet the store answers for
/// every request id and lists the whole log.
@Suite struct OrderStoreTests {
    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "pygmy-order-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func record(_ i: Int) -> OrderRecord {
        OrderRecord(
            order: 2 * i + 1,
            requestId: "r\(i)",
            item: 1 + i % 3,
            quantity: 1,
            unitCost: 30,
            timeMicros: Int64(i) * 1_000,
            coordinator: "order-1"
        )
    }

    @Test("a restart loads the recent orders, with the counters of the whole log")
    func restartLoadsRecentOrders() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var core = OrderLogState(replicaIndex: 0, replicaCount: 2)
        var store = try OrderStore(directory: path, durability: .process)
        for batch in 0..<10 {
            // As the core persists: each batch with the counters after it; the catalogs fold as it goes.
            let mutations = (batch * 300..<(batch + 1) * 300).flatMap {
                [OrderMutation.order(record($0)), .delivered(requestId: "r\($0)")]
            }
            core.apply(mutations)
            core.advanceDigestMark(to: Int64(batch) * 300_000)
            core.evict()
            try store.persist(mutations + [.counters(core.counters)])
        }
        try store.persist([
            .reject(Rejection(requestId: "no", code: .outOfStock, message: "none")), .counters(core.counters),
        ])
        store.close()

        store = try OrderStore(directory: path, durability: .process)
        defer { store.close() }
        let loaded = try store.load(replicaIndex: 0, replicaCount: 2)
        #expect(loaded.ordersInMemory == 300, "the orders at or after the mark (2,700,000 µs)")
        #expect(loaded.count == 3_000)
        #expect(loaded.counters == core.counters)
        #expect(loaded.nextOrderNumber() == 6_001)
        #expect(try store.outcome(of: "r5") == .ordered(record(5)))
        #expect(
            try store.outcome(of: "no") == .rejected(Rejection(requestId: "no", code: .outOfStock, message: "none"))
        )
        #expect(try store.outcome(of: "never") == nil)
        let snapshot = try store.snapshot(after: 0)
        #expect(snapshot.orders.map(\.order) == (0..<3_000).map { 2 * $0 + 1 })
        #expect(snapshot.rejections.map(\.requestId) == ["no"])
    }

    @Test("a store written before counters were kept is replayed whole")
    func legacyStoreIsReplayed() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var store = try OrderStore(directory: path, durability: .process)
        try store.persist((0..<50).map { OrderMutation.order(record($0)) })
        store.close()
        store = try OrderStore(directory: path, durability: .process)
        defer { store.close() }
        let loaded = try store.load(replicaIndex: 0, replicaCount: 2)
        #expect(loaded.ordersInMemory == 50)
        #expect(loaded.count == 50)
        #expect(loaded.undelivered.count == 50)
        #expect(loaded.nextOrderNumber() == 101)
    }

    @Test("a refusal recorded twice keeps the earlier, in the store as in memory")
    func theEarlierRefusalStays() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try OrderStore(directory: path, durability: .process)
        defer { store.close() }
        let later = Rejection(requestId: "x", code: .outOfStock, message: "none", timeMicros: 900)
        let earlier = Rejection(requestId: "x", code: .outOfStock, message: "none", timeMicros: 500)
        var log = OrderLogState(replicaIndex: 0, replicaCount: 2)
        for rejection in [later, earlier, later] {
            log.apply(.reject(rejection))
            try store.persist([.reject(rejection)])
        }
        #expect(log.rejections["x"] == earlier)
        #expect(try store.outcome(of: "x") == .rejected(earlier))
    }
}
