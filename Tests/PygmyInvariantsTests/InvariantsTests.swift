import PygmyBookstore
import PygmyInvariants
import Testing

/// The shared invariants on small hand-made states: each holds on a consistent state and names the
/// violation on a broken one.
@Suite struct InvariantsTests {
    static let seeds = [
        CatalogSeed(item: 1, title: "A", topic: "t", stock: 10, cost: 5),
        CatalogSeed(item: 2, title: "B", topic: "t", stock: 2, cost: 7),
    ]

    static func record(_ order: Int, _ id: String, item: ItemID = 1, quantity: Int = 1) -> OrderRecord {
        OrderRecord(
            order: order,
            requestId: id,
            item: item,
            quantity: quantity,
            unitCost: 5,
            timeMicros: 0,
            coordinator: "order-1"
        )
    }

    @Test func stockIsSeedPlusRestocksMinusSold() {
        let restocked = Invariants.totals([Restock(opId: "r", item: 2, count: 3)], item: \.item, count: \.count)
        let sold = Invariants.totals(
            [CommittedBuy(requestId: "a", item: 2, quantity: 4)],
            item: \.item,
            count: \.quantity
        )
        #expect(Invariants.expectedStock(seeds: Self.seeds, restocked: restocked, sold: sold) == [1: 10, 2: 1])
        let good = Invariants.stockArithmetic(
            replica: "catalog-1",
            seeds: Self.seeds,
            restocked: restocked,
            sold: sold,
            onHand: [1: 10, 2: 1],
            held: [1: 0, 2: 0]
        )
        #expect(good.isEmpty)
        let bad = Invariants.stockArithmetic(
            replica: "catalog-1",
            seeds: Self.seeds,
            restocked: restocked,
            sold: sold,
            onHand: [2: 0],
            held: [2: 1]
        )
        #expect(
            bad == [
                "catalog-1: no stock line for item 1",
                "catalog-1 item 2: 0 on hand, expected 2 + 3 − 4 = 1",
                "catalog-1 item 2: 1 copies still held",
            ]
        )
    }

    @Test func overselling() {
        #expect(Invariants.neverOversold(seeds: Self.seeds, restocked: [:], sold: [2: 2]).isEmpty)
        #expect(
            Invariants.neverOversold(seeds: Self.seeds, restocked: [:], sold: [2: 5])
                == ["the cluster sold 3 more copies of item 2 than it had"]
        )
    }

    @Test func orderLogsAndRejectionsMustBeEqual() {
        let a = ["x": Self.record(1, "x"), "y": Self.record(3, "y")]
        #expect(Invariants.orderLogsEqual([("order-1", a), ("order-2", a)]).isEmpty)
        var b = a
        b["y"] = Self.record(4, "y")
        b["z"] = Self.record(6, "z")
        let problems = Invariants.orderLogsEqual([("order-1", a), ("order-2", b)])
        #expect(problems.count == 1)
        #expect(problems.first?.contains("order logs of order-1 and order-2 differ") == true)
        #expect(problems.first?.contains("only on order-2: z") == true)
        #expect(problems.first?.contains("y is order 3 by order-1 on order-1 but order 4") == true)
        #expect(
            Invariants.rejectionsEqual([("order-1", ["r"]), ("order-2", [])])
                == ["rejections of order-1 and order-2 differ: only on order-1: r; only on order-2: none"]
        )
    }

    @Test func orderNumbersAreUsedOnce() {
        #expect(Invariants.orderNumbersUnique(log: "order-1", [Self.record(1, "x"), Self.record(3, "y")]).isEmpty)
        #expect(
            Invariants.orderNumbersUnique(log: "order-1", [Self.record(1, "x"), Self.record(1, "y")])
                == ["order-1 gave one order number to two orders: 1"]
        )
    }

    @Test func commitsEqualTheLog() {
        let log = ["x": Self.record(1, "x", item: 1, quantity: 2)]
        let committed = ["x": CommittedBuy(requestId: "x", item: 1, quantity: 2)]
        #expect(Invariants.commitsMatchLog(replica: "catalog-1", committed: committed, log: log).isEmpty)
        let extra = committed.merging(["w": CommittedBuy(requestId: "w", item: 1, quantity: 1)]) { a, _ in a }
        #expect(
            Invariants.commitsMatchLog(replica: "catalog-1", committed: extra, log: log)
                == ["catalog-1 commits differ from the order log: 1 not in the log (w), 0 never committed (none)"]
        )
        let other = ["x": CommittedBuy(requestId: "x", item: 1, quantity: 3)]
        #expect(
            Invariants.commitsMatchLog(replica: "catalog-1", committed: other, log: log)
                == ["catalog-1 commits differ from the order log: x is item 1 × 3 here, item 1 × 2 in the log"]
        )
    }

    @Test func clientsAreToldWhatTheLogSays() {
        let record = Self.record(1, "x")
        let log = ["x": record]
        let told: [String: Invariants.Told] = [
            "x": .acknowledged(BuyResponse(record)), "n": .refused(reason: "outOfStock"),
        ]
        #expect(Invariants.clientOutcomes(log: "order-1", orders: log, told: told).isEmpty)
        let lost = Invariants.clientOutcomes(log: "order-1", orders: [:], told: told)
        #expect(lost == ["acknowledged buy x (order 1) is missing from order-1"])
        let refusedButOrdered = Invariants.clientOutcomes(
            log: "order-1",
            orders: ["n": Self.record(3, "n")],
            told: ["n": .refused(reason: "outOfStock")]
        )
        #expect(refusedButOrdered.first?.hasPrefix("buy n was refused (outOfStock) but order-1 has order") == true)
        var wrong = BuyResponse(record)
        wrong.order = 5
        let differs = Invariants.clientOutcomes(log: "order-1", orders: log, told: ["x": .acknowledged(wrong)])
        #expect(differs.first?.hasPrefix("order-1 records buy x as") == true)
    }
}
