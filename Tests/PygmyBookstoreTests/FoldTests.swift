import PygmyBookstore
import Testing

/// Folding commits into per-item counts (docs/DESIGN.md, Bounded history): the catalog's arithmetic,
/// digests and merges are unchanged by it, and a commit below the horizon counts once.
@Suite struct FoldTests {
    func commit(_ id: String, item: ItemID = 1, quantity: Int = 1, at time: Int64) -> CommittedBuy {
        CommittedBuy(requestId: id, item: item, quantity: quantity, timeMicros: time)
    }

    /// A seeded catalog with three commits of item 1 at times 10, 20 and 30, and one of item 3 at 15.
    func catalog() throws -> CatalogState {
        var state = seededCatalog()
        for buy in [
            commit("a", at: 10), commit("b", quantity: 2, at: 20), commit("c", at: 30), commit("d", item: 3, at: 15),
        ] {
            state.apply(try state.decideCommit(buy))
        }
        return state
    }

    @Test func foldingKeepsStockAndDigestsAndDropsTheFoldedCommits() throws {
        var state = try catalog()
        let (stock1, stock3, digest) = (state.stockOnHand(1), state.stockOnHand(3), state.digest)
        let below = state.commitDigest(below: 25)
        state.apply(state.foldDecision(before: 25))
        #expect(state.committed.keys.sorted() == ["c"])
        #expect(state.folded == FoldState(before: 25, sold: [1: 3, 3: 1], digest: below))
        #expect(state.stockOnHand(1) == stock1 && state.stockOnHand(3) == stock3)
        #expect(state.digest == digest, "folding changed what anti-entropy compares")
        #expect(state.commitDigest(below: 25) == below)
        let unfolded = try catalog()
        #expect(state.commitDigest(below: .max) == unfolded.commitDigest(below: .max))
    }

    @Test func refusalsStampedBeforeTheHorizonFoldAway() throws {
        var state = try catalog()
        let digest = state.digest
        state.apply(try state.decideReject(requestId: "x", coordinator: "order-1", timeMicros: 12))
        state.apply(try state.decideReject(requestId: "y", coordinator: "order-1", timeMicros: 40))
        state.apply(try state.decideReject(requestId: "z", coordinator: "order-1"))
        // Refused again later (another coordinator's attempt): the later stamp stays, an earlier one is news
        // to nobody.
        state.apply(try state.decideReject(requestId: "x", coordinator: "order-2", timeMicros: 22))
        #expect(state.refusals["x"] == 22)
        #expect(try state.decideReject(requestId: "x", coordinator: "order-1", timeMicros: 5).isEmpty)
        // A horizon between the two stamps keeps it: order-2, which counted this record, may not have
        // logged its refusal yet (its fold floor holds at 22 until it has).
        var between = state
        between.apply(between.foldDecision(before: 15))
        #expect(between.refusals["x"] == 22)
        state.apply(state.foldDecision(before: 25))
        #expect(state.refusals == ["y": 40, "z": .max], "x folded; z has no stamp and never folds")
        var without = try catalog()
        without.apply([.reject(requestId: "y", timeMicros: 40), .reject(requestId: "z")])
        #expect(state.digest == without.digest && state.digest != digest)
        // The order logs refuse it from now on: a hold for it is judged as any other.
        let (outcome, _) = try state.decideHold(
            Hold(requestId: "x", item: 1, quantity: 1, coordinator: "order-1", createdMicros: 0),
            checked: true
        )
        #expect(outcome == .held(unitCost: try state.lookup(1).cost, checked: true))
        // A final abort stamped before the horizon (a late duplicate) only releases its coordinator's hold.
        state.apply(.hold(Hold(requestId: "w", item: 1, quantity: 1, coordinator: "order-1", createdMicros: 0)))
        #expect(
            try state.decideReject(requestId: "w", coordinator: "order-1", timeMicros: 3) == [
                .releaseHold(requestId: "w")
            ]
        )
        // A peer that has not folded yet brings back no refusal below the horizon.
        var peer = try catalog()
        peer.apply([.reject(requestId: "x", timeMicros: 22), .reject(requestId: "y", timeMicros: 41)])
        state.apply(state.mutationsToMerge(peer.snapshot()))
        #expect(state.refusals == ["y": 41, "z": .max])
    }

    @Test func aCommitBelowTheHorizonArrivingAgainCountsOnce() throws {
        var state = try catalog()
        state.apply(state.foldDecision(before: 25))
        let stock = state.stockOnHand(1)
        #expect(try state.decideCommit(commit("a", at: 10)).isEmpty)
        state.apply(.commit(commit("b", quantity: 2, at: 20)))
        #expect(state.stockOnHand(1) == stock && state.committed["b"] == nil)
        // Not below it: a new commit.
        state.apply(try state.decideCommit(commit("e", at: 25)))
        #expect(state.stockOnHand(1) == stock - 1)
    }

    @Test func aReplicaMergingOneThatFoldedFurtherFoldsAsFar() throws {
        var ahead = try catalog()
        ahead.apply(ahead.foldDecision(before: 25))
        var behind = try catalog()
        behind.apply(behind.foldDecision(before: 12))
        behind.apply(behind.mutationsToMerge(ahead.snapshot()))
        #expect(behind.folded == ahead.folded)
        #expect(behind.committed == ahead.committed)
        #expect(behind.stockOnHand(1) == ahead.stockOnHand(1) && behind.digest == ahead.digest)
        // And the other way round changes nothing.
        let before = ahead
        ahead.apply(ahead.mutationsToMerge(behind.snapshot()))
        #expect(ahead.folded == before.folded && ahead.committed == before.committed)
    }

    @Test func aRestoredFoldWithItsUnfoldedCommitsIsTheSameState() throws {
        var state = try catalog()
        state.apply(state.foldDecision(before: 25))
        var restored = seededCatalog()
        restored.restore(state.folded)
        for buy in state.committed.values { restored.apply(.commit(buy)) }
        #expect(restored.stockOnHand(1) == state.stockOnHand(1) && restored.stockOnHand(3) == state.stockOnHand(3))
        #expect(restored.digest == state.digest && restored.folded == state.folded)
    }

    @Test func anOrderLogStampsNoOrderBelowAFloorItReported() {
        var log = OrderLogState(replicaIndex: 0, replicaCount: 2)
        let record = OrderRecord(
            order: 1,
            requestId: "a",
            item: 1,
            quantity: 1,
            unitCost: 10,
            timeMicros: 100,
            coordinator: "order-1"
        )
        log.apply(.order(record))
        #expect(log.foldFloor == 100, "an undelivered order holds the floor at its time")
        log.apply(.delivered(requestId: "a"))
        log.apply(.promiseFloor(500))
        #expect(log.foldFloor == 500)
        #expect(log.decisionTime(clock: 300) == 500, "a clock that went back stamps no order below the promise")
        #expect(log.decisionTime(clock: 900) == 900)
        #expect(log.commitDigest(below: 101) == seededCommitDigest(["a"]))
    }

    @Test func aSyncAsksOnlyForTheOrdersSinceAHorizon() {
        var log = OrderLogState(replicaIndex: 0, replicaCount: 1)
        for (number, time) in [(1, 50), (2, 10), (3, 70)] {
            log.apply(
                .order(
                    OrderRecord(
                        order: number,
                        requestId: "r\(number)",
                        item: 1,
                        quantity: 1,
                        unitCost: 10,
                        timeMicros: Int64(time),
                        coordinator: "order-1"
                    )
                )
            )
        }
        #expect(log.orders(after: 0, since: 50).map(\.order) == [1, 3])
        #expect(log.orders(after: 1, since: nil).map(\.order) == [2, 3])
    }

    func seededCommitDigest(_ ids: [String]) -> UInt64 {
        var state = seededCatalog()
        for id in ids { state.apply(.commit(CommittedBuy(requestId: id, item: 1, quantity: 1, timeMicros: 0))) }
        return state.commitDigest(below: .max)
    }
}
