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

    /// Persists `mutations` as `OrderReplica.persist` does: with the counters only when what lies before
    /// the digest mark changed.
    func persist(_ mutations: [OrderMutation], _ core: inout OrderLogState, _ store: OrderStore) throws {
        core.apply(mutations)
        let counters = core.counters
        guard counters.differsFrom(core.storedCounters) else { return try store.persist(mutations) }
        core.apply(.counters(counters))
        try store.persist(mutations + [.counters(counters)])
    }

    @Test("a restart loads the orders at or after the mark, with the counters of the whole log")
    func restartLoadsRecentOrders() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var core = OrderLogState(replicaIndex: 0, replicaCount: 2)
        var store = try OrderStore(directory: path, durability: .process)
        var written = 0
        for batch in 0..<10 {
            // As the core persists: the counters only when the mark moves; the catalogs fold as it goes.
            let mutations = (batch * 300..<(batch + 1) * 300).flatMap {
                [OrderMutation.order(record($0)), .delivered(requestId: "r\($0)")]
            }
            try persist(mutations, &core, store)
            core.advanceDigestMark(to: Int64(batch) * 300_000)
            core.evict()
            if core.counters.differsFrom(core.storedCounters) { written += 1 }
            try persist([], &core, store)
        }
        // After the last move of the mark: orders (one undelivered) and a refusal, without counters.
        let stored = core.storedCounters
        try persist((3_000..<3_100).map { OrderMutation.order(record($0)) }, &core, store)
        try persist((3_000..<3_099).map { OrderMutation.delivered(requestId: "r\($0)") }, &core, store)
        try persist([.reject(Rejection(requestId: "no", code: .outOfStock, message: "none"))], &core, store)
        #expect(core.storedCounters == stored, "recent orders and an untimed refusal write no counters")
        #expect(written == 9, "the mark moved nine times")
        store.close()

        store = try OrderStore(directory: path, durability: .process)
        defer { store.close() }
        let loaded = try store.load(replicaIndex: 0, replicaCount: 2)
        #expect(loaded.ordersInMemory == 400, "the orders at or after the mark (2,700,000 µs)")
        #expect(loaded.count == 3_100)
        #expect(loaded.digest == core.digest)
        #expect(loaded.counters == core.counters)
        #expect(loaded.latestTime == core.latestTime)
        #expect(loaded.nextOrderNumber() == 6_201)
        #expect(loaded.undelivered == ["r3099"])
        #expect(loaded.commitDigest(below: 3_000_000) == core.commitDigest(below: 3_000_000))
        #expect(try store.outcome(of: "r5") == .ordered(record(5)))
        #expect(
            try store.outcome(of: "no") == .rejected(Rejection(requestId: "no", code: .outOfStock, message: "none"))
        )
        #expect(try store.outcome(of: "never") == nil)
        let snapshot = try store.snapshot(after: 0)
        #expect(snapshot.orders.map(\.order) == (0..<3_100).map { 2 * $0 + 1 })
        #expect(snapshot.rejections.map(\.requestId) == ["no"])
    }

    @Test("an order before the mark counts as delivered: a restart does not load it")
    func ordersBeforeTheMarkAreDelivered() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var core = OrderLogState(replicaIndex: 0, replicaCount: 2)
        var store = try OrderStore(directory: path, durability: .process)
        try persist((0..<10).map { OrderMutation.order(record($0)) }, &core, store)
        core.advanceDigestMark(to: 5_000)
        try persist([], &core, store)
        #expect(core.undelivered == Set((5..<10).map { "r\($0)" }), "every catalog committed those before the mark")
        store.close()
        store = try OrderStore(directory: path, durability: .process)
        defer { store.close() }
        let loaded = try store.load(replicaIndex: 0, replicaCount: 2)
        #expect(loaded.undelivered == core.undelivered)
        #expect(loaded.count == 10)
        #expect(loaded.digest == core.digest)
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
