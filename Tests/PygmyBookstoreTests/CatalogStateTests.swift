import PygmyBookstore
import Testing

func seededCatalog() -> CatalogState {
    var state = CatalogState()
    state.apply(CatalogSeed.original.map(CatalogMutation.addBook))
    return state
}

func hold(_ id: String, item: ItemID = 1, quantity: Int = 1, by coordinator: String = "order-1") -> Hold {
    Hold(requestId: id, item: item, quantity: quantity, coordinator: coordinator, createdMicros: 0)
}

@Suite struct CatalogStateTests {
    @Test func searchAndLookupServeTheOriginalStore() throws {
        let state = seededCatalog()
        #expect(try state.search(topic: "distributed systems").map(\.item) == [1, 2])
        #expect(try state.search(topic: "Graduate School").map(\.item) == [3, 4])
        #expect(
            try state.lookup(2)
                == Book(item: 2, title: "RPCs for Dummies", topic: "distributed systems", stock: 4, cost: 40)
        )
        #expect(throws: BookstoreError.self) { try state.search(topic: "cooking") }
        #expect(throws: BookstoreError.self) { try state.lookup(99) }
    }

    @Test func holdsReserveAndCommitsConsume() throws {
        var state = seededCatalog()
        let (outcome, mutations) = try state.decideHold(hold("a", item: 2, quantity: 3), checked: true)
        #expect(outcome == .held(unitCost: 40, checked: true))
        state.apply(mutations)
        #expect(state.available(2) == 1)
        #expect(try state.decideHold(hold("b", item: 2, quantity: 2), checked: true).0 == .outOfStock(available: 1))
        state.apply(try state.decideCommit(CommittedBuy(requestId: "a", item: 2, quantity: 3)))
        #expect(state.stockOnHand(2) == 1 && state.heldCopies(2) == 0)
        // A retried hold for a committed request id is recognised, not applied twice.
        #expect(try state.decideHold(hold("a", item: 2, quantity: 3), checked: true).0 == .alreadyCommitted)
        #expect(try state.decideCommit(CommittedBuy(requestId: "a", item: 2, quantity: 3)).isEmpty)
    }

    @Test func onlyTheHoldingCoordinatorCanAbort() throws {
        var state = seededCatalog()
        state.apply(try state.decideHold(hold("a", by: "order-1"), checked: true).1)
        #expect(try state.decideHold(hold("a", by: "order-2"), checked: true).0 == .heldByOther(coordinator: "order-1"))
        #expect(state.decideAbort(requestId: "a", coordinator: "order-2").isEmpty)
        state.apply(state.decideAbort(requestId: "a", coordinator: "order-1"))
        #expect(state.heldCopies(1) == 0)
    }

    /// Found by the simulator (seed 509441: one request id became two orders): a retried hold is a new
    /// instance, and a stale-hold release names the instance it asked about, so an "aborted" answered
    /// during an earlier attempt cannot remove the hold a later attempt relies on.
    @Test func aRetriedHoldIsANewInstanceThatAnOldReleaseDoesNotRemove() throws {
        var state = seededCatalog()
        state.apply(try state.decideHold(hold("a"), checked: true).1)
        let asked = try #require(state.holds["a"]).createdMicros
        var retry = hold("a")
        retry.createdMicros = asked  // the same clock reading: the new instance is still distinct
        let (outcome, mutations) = try state.decideHold(retry, checked: true)
        #expect(outcome == .held(unitCost: 30, checked: true))
        state.apply(mutations)
        let renewed = try #require(state.holds["a"])
        #expect(renewed.createdMicros > asked)
        #expect(state.heldCopies(1) == 1)
        #expect(state.decideAbort(requestId: "a", coordinator: "order-1", createdMicros: asked).isEmpty)
        state.apply(state.decideAbort(requestId: "a", coordinator: "order-1", createdMicros: renewed.createdMicros))
        #expect(state.heldCopies(1) == 0)
    }

    /// Found by the simulator (seed 3000531: one request id became two orders): a duplicated release of
    /// an earlier attempt, arriving after the next attempt's hold, removed it.
    @Test func aReleaseOfAnEarlierAttemptLeavesALaterAttemptsHold() throws {
        var state = seededCatalog()
        var first = hold("a")
        first.attempt = 10
        state.apply(try state.decideHold(first, checked: true).1)
        var second = hold("a")
        second.attempt = 20
        state.apply(try state.decideHold(second, checked: true).1)
        #expect(state.decideAbort(requestId: "a", coordinator: "order-1", attempt: 10).isEmpty)
        state.apply(state.decideAbort(requestId: "a", coordinator: "order-1", attempt: 20))
        #expect(state.heldCopies(1) == 0)
    }

    @Test func uncheckedHoldsAreRecordedWithoutJudgingStock() throws {
        var state = seededCatalog()
        let (outcome, mutations) = try state.decideHold(hold("x", item: 2, quantity: 50), checked: false)
        #expect(outcome == .held(unitCost: 40, checked: false))
        state.apply(mutations)
        #expect(state.heldCopies(2) == 50)
    }

    /// Found by the simulator (a seed that oversold): a hold recorded unchecked while the replica was
    /// joining must not be vouched for when the same hold is retried after the replica is ready.
    @Test func aRetriedHoldIsJudgedAgainOnceReady() throws {
        var state = seededCatalog()
        state.apply(try state.decideHold(hold("x", item: 2, quantity: 3), checked: false).1)
        state.apply(try state.decideCommit(CommittedBuy(requestId: "other", item: 2, quantity: 3)))
        #expect(state.available(2) == -2)
        let (outcome, mutations) = try state.decideHold(hold("x", item: 2, quantity: 3), checked: true)
        #expect(outcome == .outOfStock(available: 1))
        state.apply(mutations)
        #expect(state.heldCopies(2) == 0)
        // A retry that still fits is held and vouched for.
        state.apply(try state.decideHold(hold("y", item: 2, quantity: 1), checked: false).1)
        #expect(
            try state.decideHold(hold("y", item: 2, quantity: 1), checked: true).0 == .held(unitCost: 40, checked: true)
        )
    }

    @Test func mergingIsAUnionInAnyOrder() throws {
        var a = seededCatalog()
        var b = seededCatalog()
        a.apply(try a.decideCommit(CommittedBuy(requestId: "r1", item: 1, quantity: 2)))
        b.apply(try b.decideCommit(CommittedBuy(requestId: "r2", item: 1, quantity: 3)))
        b.apply(try b.decideRestock(Restock(opId: "s1", item: 1, count: 5)))
        a.apply(try a.decideSetPrice(PriceSetting(item: 1, cost: 35, version: 2, opId: "p2")))
        b.apply(try b.decideSetPrice(PriceSetting(item: 1, cost: 99, version: 1, opId: "p1")))
        let snapA = a.snapshot()
        let snapB = b.snapshot()
        a.apply(a.mutationsToMerge(snapB))
        b.apply(b.mutationsToMerge(snapA))
        #expect(a.snapshot() == b.snapshot())
        #expect(try a.lookup(1).stock == 10 - 2 - 3 + 5)
        #expect(try b.lookup(1).cost == 35)
        // Merging again changes nothing.
        #expect(a.mutationsToMerge(b.snapshot()).isEmpty)
    }

    @Test func badValuesAreRefused() {
        let state = seededCatalog()
        #expect(throws: BookstoreError.self) { try state.decideRestock(Restock(opId: "x", item: 1, count: .max)) }
        #expect(throws: BookstoreError.self) {
            try state.decideSetPrice(PriceSetting(item: 1, cost: .max, version: 1, opId: "x"))
        }
        #expect(throws: BookstoreError.self) {
            try state.decideCommit(CommittedBuy(requestId: "r", item: 1, quantity: -5))
        }
        #expect(throws: BookstoreError.self) { try state.decideHold(hold("h", quantity: .max), checked: false) }
        #expect(throws: BookstoreError.self) { try state.decideRestock(Restock(opId: "x", item: 1, count: 0)) }
        #expect(throws: BookstoreError.self) { try state.decideRestock(Restock(opId: "x", item: 42, count: 1)) }
        #expect(throws: BookstoreError.self) {
            try state.decideSetPrice(PriceSetting(item: 1, cost: -1, version: 1, opId: "x"))
        }
    }

    @Test func staleHoldsAreFoundByAge() {
        var state = seededCatalog()
        state.apply(.hold(Hold(requestId: "old", item: 1, quantity: 1, coordinator: "o", createdMicros: 0)))
        state.apply(.hold(Hold(requestId: "new", item: 1, quantity: 1, coordinator: "o", createdMicros: 9_000_000)))
        #expect(state.staleHolds(nowMicros: 10_000_000, timeoutMicros: 5_000_000).map(\.requestId) == ["old"])
    }
}

@Suite struct OrderLogStateTests {
    func record(_ id: String, order: Int) -> OrderRecord {
        OrderRecord(order: order, requestId: id, item: 1, quantity: 1, unitCost: 30, timeMicros: 0, coordinator: "o")
    }

    @Test func replicasNumberOrdersInDisjointClasses() {
        var first = OrderLogState(replicaIndex: 0, replicaCount: 2)
        var second = OrderLogState(replicaIndex: 1, replicaCount: 2)
        var numbers: [Int] = []
        for i in 0..<3 {
            let a = first.nextOrderNumber()
            first.apply(.order(record("a\(i)", order: a)))
            let b = second.nextOrderNumber()
            second.apply(.order(record("b\(i)", order: b)))
            numbers += [a, b]
        }
        #expect(numbers.sorted() == [1, 2, 3, 4, 5, 6])
        // Merging the peer's orders does not disturb local numbering.
        first.apply(first.mutationsToMerge(orders: second.orderedLog, rejections: []))
        #expect(first.nextOrderNumber() == 7)
        #expect(first.orderedLog.count == 6)
    }

    @Test func anOrderOutranksARejectionForTheSameRequest() {
        var log = OrderLogState(replicaIndex: 0, replicaCount: 2)
        log.apply(.reject(Rejection(requestId: "r", code: .outOfStock, message: "none")))
        log.apply(.order(record("r", order: 2)))
        #expect(log.outcome(of: "r") == .ordered(record("r", order: 2)))
        log.apply(.reject(Rejection(requestId: "r", code: .outOfStock, message: "none")))
        #expect(log.outcome(of: "r") == .ordered(record("r", order: 2)))
    }
}

@Suite struct FailureDetectorTests {
    @Test func peersComeUpOnSuccessAndGoDownOnFailureOrSilence() {
        var detector = FailureDetector(peers: ["a", "b"], timeout: .seconds(1), now: .zero)
        #expect(detector.up(among: ["a", "b"], now: .zero).isEmpty)
        let cameUp = detector.succeeded("a", now: .milliseconds(100))
        #expect(cameUp)
        #expect(detector.isUp("a", now: .milliseconds(500)))
        #expect(!detector.isUp("a", now: .milliseconds(1200)))  // silent for longer than the timeout
        detector.succeeded("b", now: .milliseconds(1200))
        let wentDown = detector.failed("b", now: .milliseconds(1300))
        #expect(wentDown)
        #expect(!detector.isUp("b", now: .milliseconds(1300)))
    }
}

extension FailureDetectorTests {
    @Test func slowPeersAreSuspectedBeforeTheyAreDeclaredDown() {
        var detector = FailureDetector(peers: ["a"], timeout: .seconds(1), now: .zero, suspicionThreshold: 3)
        detector.succeeded("a", now: .milliseconds(10))
        detector.failed("a", now: .milliseconds(20), definite: false)
        detector.failed("a", now: .milliseconds(30), definite: false)
        #expect(detector.isUp("a", now: .milliseconds(40)))
        let wentDown = detector.failed("a", now: .milliseconds(50), definite: false)
        #expect(wentDown)
        #expect(!detector.isUp("a", now: .milliseconds(60)))
        detector.succeeded("a", now: .milliseconds(70))
        detector.failed("a", now: .milliseconds(80), definite: false)
        #expect(detector.isUp("a", now: .milliseconds(90)), "a success resets the count")
    }
}

@Suite struct ReadCacheTests {
    @Test func leastRecentlyUsedIsEvicted() {
        var cache = ReadCache<Int>(capacity: 2)
        for item in 1...2 {
            guard case .miss(let ticket) = cache.get(.lookup(item: item)) else {
                Issue.record("hit")
                return
            }
            cache.fill(ticket, item)
        }
        _ = cache.get(.lookup(item: 1))  // 1 is now more recent than 2
        guard case .miss(let ticket) = cache.get(.lookup(item: 3)) else {
            Issue.record("hit")
            return
        }
        cache.fill(ticket, 3)
        if case .hit = cache.get(.lookup(item: 2)) { Issue.record("2 should have been evicted") }
        if case .miss = cache.get(.lookup(item: 1)) { Issue.record("1 should still be cached") }
        #expect(cache.count == 2)
    }

    @Test func aFillThatRacedWithAnInvalidationIsDropped() {
        var cache = ReadCache<Int>(capacity: 8)
        guard case .miss(let ticket) = cache.get(.lookup(item: 1)) else {
            Issue.record("hit")
            return
        }
        cache.invalidate(.lookup(item: 1))  // a write happened while the miss was being fetched
        cache.fill(ticket, 10)
        guard case .miss(let fresh) = cache.get(.lookup(item: 1)) else {
            Issue.record("stale value was cached")
            return
        }
        cache.fill(fresh, 9)
        if case .hit(let value) = cache.get(.lookup(item: 1)) { #expect(value == 9) } else { Issue.record("miss") }
        #expect(cache.hits == 1 && cache.misses == 2)
    }

    @Test func disabledCacheNeverHits() {
        var cache = ReadCache<Int>(capacity: 8, enabled: false)
        guard case .miss(let ticket) = cache.get(.search(topic: "x")) else {
            Issue.record("hit")
            return
        }
        cache.fill(ticket, 1)
        if case .hit = cache.get(.search(topic: "x")) { Issue.record("disabled cache hit") }
    }
}
