import PygmyBookstore
import Testing

/// `OrderLogState+Memory`: an order replica keeps only recent orders in memory, and neither evicting nor
/// recalling changes what the log is (its digest, its counters, the outcome of a request id).
@Suite struct OrderLogMemoryTests {
    func record(_ i: Int, time: Int64) -> OrderRecord {
        OrderRecord(
            order: 2 * i + 1,
            requestId: "r\(i)",
            item: 1,
            quantity: 1,
            unitCost: 30,
            timeMicros: time,
            coordinator: "order-1"
        )
    }

    /// A log of 100 delivered orders at times 0, 10, ..., 990.
    func log() -> OrderLogState {
        var log = OrderLogState(replicaIndex: 0, replicaCount: 2)
        for i in 0..<100 {
            log.apply(.order(record(i, time: Int64(i) * 10)))
            log.apply(.delivered(requestId: "r\(i)"))
        }
        return log
    }

    @Test("evicting the folded orders keeps the digest, the counters and the fold digests")
    func evictionChangesNothingButMemory() {
        var evicted = log()
        let full = evicted
        evicted.advanceDigestMark(to: 500)
        evicted.evict()
        #expect(evicted.ordersInMemory == 50)
        #expect(evicted.count == 100)
        #expect(evicted.digest == full.digest)
        #expect(evicted.nextOrderNumber() == full.nextOrderNumber())
        #expect(evicted.commitDigest(below: 700) == full.commitDigest(below: 700))
        #expect(evicted.outcome(of: "r10") == nil, "r10 is in the store only")
        #expect(evicted.outcome(of: "r60") == full.outcome(of: "r60"))
    }

    @Test("the outcome of a buy running here stays in memory, however old")
    func runningBuysKeepTheirOutcome() {
        var log = log()
        log.advanceDigestMark(to: 500)
        log.evict(keeping: ["r10"])
        #expect(log.outcome(of: "r10") != nil, "the coordinator checks its log before it decides")
        #expect(log.outcome(of: "r11") == nil)
    }

    @Test("an undelivered order holds the fold floor, and counts as delivered once folded")
    func undeliveredOrdersHoldTheFloor() {
        var log = log()
        log.apply(.order(record(200, time: 5)))
        #expect(log.foldFloor == 5)
        log.evict()
        #expect(log.outcome(of: "r200") != nil)
        // The catalogs folded past it: each of them committed it (their digests equalled this log's).
        log.advanceDigestMark(to: 500)
        #expect(!log.undelivered.contains("r200"))
        log.evict()
        #expect(log.outcome(of: "r200") == nil)
    }

    @Test("a recalled order is answered again and merging it changes no digest")
    func recallThenMerge() {
        var log = log()
        log.advanceDigestMark(to: 500)
        log.evict()
        let before = log.digest
        log.recall([.ordered(record(10, time: 100))])
        #expect(log.outcome(of: "r10") == .ordered(record(10, time: 100)))
        log.apply(log.mutationsToMerge(orders: [record(10, time: 100)], rejections: []))
        #expect(log.digest == before)
        #expect(log.count == 100)
        log.evict()
        #expect(log.outcome(of: "r10") == nil, "evicted again at the next round")
    }

    @Test("a restart from the counters and the recent orders is the log the core had")
    func restoredFromCounters() {
        var core = log()
        core.advanceDigestMark(to: 500)
        core.evict()
        // As stored when the mark last moved: what came in since is at or after it, and is loaded.
        let stored = core.counters
        core.apply(.reject(Rejection(requestId: "x", code: .outOfStock, message: "none")))
        core.apply(.begin(PendingBuy(requestId: "p", item: 1, quantity: 1)))
        core.apply(.order(record(100, time: 2_000)))
        #expect(!core.counters.differsFrom(stored), "recent orders change nothing before the mark")
        let loaded = core.orders.values.filter { OrderLogState.loads($0, with: stored) }
        let restarted = OrderLogState.restored(
            replicaIndex: 0,
            replicaCount: 2,
            counters: stored,
            orders: Array(loaded),
            undelivered: core.undelivered,
            rejections: Array(core.rejections.values),
            pending: Array(core.pending.values),
            promisedFloor: core.promisedFloor
        )
        #expect(restarted.counters == core.counters)
        #expect(restarted.digest == core.digest)
        #expect(restarted.count == core.count)
        #expect(restarted.latestTime == core.latestTime)
        #expect(restarted.undelivered == core.undelivered)
        #expect(restarted.orders == core.orders)
        #expect(restarted.commitDigest(below: 800) == core.commitDigest(below: 800))
        #expect(restarted.nextOrderNumber() == core.nextOrderNumber())
        #expect(restarted.outcome(of: "x") == core.outcome(of: "x"))
        #expect(restarted.pending == core.pending)
    }

    @Test("refusals fold like orders: evicted below the mark, digests unchanged, the earlier of two kept")
    func refusalsFold() {
        var a = log()
        var b = log()
        let early = Rejection(requestId: "x", code: .outOfStock, message: "none", timeMicros: 100)
        let late = Rejection(requestId: "x", code: .outOfStock, message: "none", timeMicros: 700)
        a.apply(.reject(early))
        b.apply(.reject(late))
        #expect(a.digest != b.digest, "anti-entropy must see the difference")
        #expect(a.refusalDigest(below: 500) != b.refusalDigest(below: 500))
        b.apply(b.mutationsToMerge(orders: [], rejections: [early]))
        a.apply(a.mutationsToMerge(orders: [], rejections: [late]))
        #expect(a.digest == b.digest && a.refusalDigest(below: 500) == b.refusalDigest(below: 500))
        let digest = b.digest
        b.advanceDigestMark(to: 500)
        b.evict()
        #expect(b.rejections.isEmpty, "the refusal below the mark is in the store only")
        #expect(b.digest == digest && b.refusalDigest(below: 600) == a.refusalDigest(below: 600))
    }
}
