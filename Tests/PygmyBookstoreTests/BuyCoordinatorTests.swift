import PygmyBookstore
import Testing

/// The buy protocol's decisions, step by step, without any I/O.
@Suite struct BuyCoordinatorTests {
    let request = BuyRequest(item: 2, quantity: 1, requestId: "r1")
    let log = OrderLogState(replicaIndex: 0, replicaCount: 2)

    func coordinator(targets: [String] = ["catalog-1", "catalog-2"]) -> BuyCoordinator {
        BuyCoordinator(
            request: request,
            coordinator: "order-1",
            targets: targets,
            catalogs: ["catalog-1", "catalog-2"]
        )
    }

    @Test func aBuyHoldsTheFirstReplicaFirstThenDecidesReplicatesAndCommitsEverywhere() {
        var buy = coordinator()
        let start = buy.start()
        #expect(start == [.persist([.begin(PendingBuy(requestId: "r1", item: 2, quantity: 1))])])
        guard case .holds(["catalog-1"], _) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(buy.holdsAnswered(["catalog-1": .answered(.held(unitCost: 40, checked: true))]).isEmpty)
        guard case .holds(["catalog-2"], _) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(
            buy.holdsAnswered(["catalog-2": .answered(.held(unitCost: 40, checked: false))]) == [
                .checkpoint(.afterHolds)
            ]
        )
        let decided = buy.decide(log: log, abortRequested: false, timeMicros: 7)
        guard case .persist(let mutations) = decided.first, case .order(let record)? = mutations.first else {
            Issue.record("\(decided)")
            return
        }
        #expect(record.order == 1 && record.unitCost == 40 && record.total == 40)
        guard case .replication(let replication) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(replication.orders == [record])
        #expect(buy.replicated() == [.checkpoint(.afterReplication)])
        guard case .commits(["catalog-1", "catalog-2"], _) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(
            buy.committed(acknowledgedBy: ["catalog-1", "catalog-2"], refusedBy: []) == [
                .persist([.delivered(requestId: "r1")])
            ]
        )
        #expect(buy.awaiting == .done(.ordered(BuyResponse(record))))
    }

    @Test func aRefusalIsRecordedAtEveryCatalogReplicaBeforeTheAnswer() {
        var buy = coordinator()
        _ = buy.start()
        // Nothing is recorded here before every catalog replica has made the refusal final.
        #expect(buy.holdsAnswered(["catalog-1": .answered(.outOfStock(available: 0))]).isEmpty)
        let final = AbortRequest(requestId: "r1", coordinator: "order-1", final: true)
        #expect(buy.awaiting == .refusals(["catalog-1", "catalog-2"], final))
        // catalog-2 did not answer: it gets the final abort again.
        #expect(buy.refusalsAnswered(recordedBy: ["catalog-1"], refusedBy: [], conflictedAt: [], timeMicros: 7).isEmpty)
        #expect(buy.awaiting == .refusals(["catalog-2"], final))
        let actions = buy.refusalsAnswered(recordedBy: ["catalog-2"], refusedBy: [], conflictedAt: [], timeMicros: 7)
        guard case .persist(let mutations) = actions.first, case .reject(let rejection)? = mutations.first else {
            Issue.record("\(actions)")
            return
        }
        #expect(rejection.code == .outOfStock)
        #expect(rejection.timeMicros == 7, "stamped as it is recorded")
        guard case .replication(let replication) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(replication.rejections == [rejection])
        #expect(buy.replicated().isEmpty)
        guard case .done(.refused(let error)) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(error.code == .outOfStock)
    }

    /// A catalog replica that holds the request for another coordinator (or has it committed) makes the
    /// refusal "in progress": that attempt decides. Found by the simulator with lost messages: a refusal
    /// answered while the other order replica's attempt was being ordered.
    @Test func aRefusalThatMeetsAnotherAttemptIsInProgress() {
        var buy = coordinator()
        _ = buy.start()
        _ = buy.holdsAnswered(["catalog-1": .answered(.outOfStock(available: 0))])
        let actions = buy.refusalsAnswered(
            recordedBy: ["catalog-1"],
            refusedBy: [],
            conflictedAt: ["catalog-2"],
            timeMicros: 7
        )
        #expect(actions.first == .persist([.forget(requestId: "r1")]))
        guard case .done(.refused(let error)) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(error.code == .inProgress)
    }

    /// Unconfirmed after every round: nothing is recorded and the buy is unavailable, not refused.
    @Test func anUnconfirmedRefusalIsNotAnswered() {
        var buy = coordinator()
        _ = buy.start()
        _ = buy.holdsAnswered(["catalog-1": .answered(.outOfStock(available: 0))])
        for _ in 1..<BuyCoordinator.commitRounds {
            #expect(
                buy.refusalsAnswered(recordedBy: ["catalog-1"], refusedBy: [], conflictedAt: [], timeMicros: 7).isEmpty
            )
        }
        let actions = buy.refusalsAnswered(recordedBy: [], refusedBy: [], conflictedAt: [], timeMicros: 7)
        #expect(actions.first == .persist([.forget(requestId: "r1")]))
        guard case .done(.refused(let error)) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(error.code == .unavailable)
    }

    @Test func aFailedOrUncheckedHoldReleasesAndRetries() {
        var failed = coordinator()
        _ = failed.start()
        _ = failed.holdsAnswered(["catalog-1": .answered(.held(unitCost: 40, checked: true))])
        let actions = failed.holdsAnswered(["catalog-2": .failed("timed out")])
        #expect(
            actions == [
                .persist([.forget(requestId: "r1")]),
                .abort(["catalog-1"], AbortRequest(requestId: "r1", coordinator: "order-1")),
            ]
        )
        guard case .done(.retry) = failed.awaiting else {
            Issue.record("\(failed.awaiting)")
            return
        }

        var unchecked = coordinator(targets: ["catalog-2"])
        _ = unchecked.start()
        _ = unchecked.holdsAnswered(["catalog-2": .answered(.held(unitCost: 40, checked: false))])
        guard case .done(.retry) = unchecked.awaiting else {
            Issue.record("\(unchecked.awaiting)")
            return
        }
    }

    /// A buy held at both replicas, decided and replicated: waiting for its commits.
    func committing() -> BuyCoordinator {
        var buy = coordinator()
        _ = buy.start()
        _ = buy.holdsAnswered(["catalog-1": .answered(.held(unitCost: 40, checked: true))])
        _ = buy.holdsAnswered(["catalog-2": .answered(.held(unitCost: 40, checked: true))])
        _ = buy.decide(log: log, abortRequested: false, timeMicros: 7)
        _ = buy.replicated()
        return buy
    }

    @Test func aBuyIsAcknowledgedOnlyOnceEveryRunningReplicaHasTheCommit() {
        var buy = committing()
        // catalog-2 did not answer: it gets the commit again, and the buy waits.
        #expect(buy.committed(acknowledgedBy: ["catalog-1"], refusedBy: []).isEmpty)
        guard case .commits(["catalog-2"], _) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        // Then its process is gone (connection refused): it rejoins through the logs, so the buy is answered,
        // but not marked delivered.
        #expect(buy.committed(acknowledgedBy: [], refusedBy: ["catalog-2"]).isEmpty)
        guard case .done(.ordered) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
    }

    @Test func aCommitNobodyConfirmsEndsAsDecidedButUnconfirmed() {
        var buy = committing()
        for _ in 1..<BuyCoordinator.commitRounds {
            _ = buy.committed(acknowledgedBy: [], refusedBy: [])
            guard case .commits = buy.awaiting else {
                Issue.record("\(buy.awaiting)")
                return
            }
        }
        _ = buy.committed(acknowledgedBy: [], refusedBy: [])
        guard case .done(.refused(let error)) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
        #expect(error.code == .unavailable)
    }

    @Test func aCatalogThatTimedTheHoldOutStopsTheDecision() {
        var buy = coordinator(targets: ["catalog-1"])
        _ = buy.start()
        _ = buy.holdsAnswered(["catalog-1": .answered(.held(unitCost: 40, checked: true))])
        #expect(buy.decide(log: log, abortRequested: true, timeMicros: 7).first == .persist([.forget(requestId: "r1")]))
        guard case .done(.retry) = buy.awaiting else {
            Issue.record("\(buy.awaiting)")
            return
        }
    }

    /// A refused request id stays refused at the catalog: a later hold for it (a retry, or a late copy of
    /// the first attempt at another order replica) is refused too, and replicas merge the refusal.
    @Test func aRefusalIsDurableAtTheCatalogAndMerges() throws {
        var catalog = seededCatalog()
        catalog.apply(try catalog.decideHold(hold("r1", item: 2, quantity: 1), checked: true).1)
        // Another coordinator's hold, or a commit, makes a refusal impossible there.
        #expect(throws: BookstoreError.self) { try catalog.decideReject(requestId: "r1", coordinator: "order-2") }
        catalog.apply(try catalog.decideReject(requestId: "r1", coordinator: "order-1"))
        #expect(catalog.heldCopies(2) == 0)
        #expect(
            try catalog.decideHold(hold("r1", item: 2, quantity: 1, by: "order-2"), checked: true).0
                == .outOfStock(available: 4)
        )
        var peer = seededCatalog()
        peer.apply(peer.mutationsToMerge(catalog.snapshot()))
        #expect(peer.rejected == ["r1"])
        // An order outranks a refusal: the log is the truth.
        peer.apply(try peer.decideCommit(CommittedBuy(requestId: "r1", item: 2, quantity: 1)))
        #expect(peer.rejected.isEmpty && peer.stockOnHand(2) == 3)
    }

    /// Anti-entropy skips peers whose digest equals ours, so equal state must give equal digests whatever
    /// the order it arrived in, and any difference a different one.
    @Test func digestsAgreeExactlyWhenTheMergeableStateDoes() throws {
        var a = seededCatalog()
        var b = seededCatalog()
        let commit = CommittedBuy(requestId: "r1", item: 2, quantity: 1)
        let restock = Restock(opId: "s1", item: 1, count: 5)
        let price = PriceSetting(item: 1, cost: 99, version: 3, opId: "p")
        a.apply([.commit(commit), .restock(restock), .setPrice(price), .reject(requestId: "r2")])
        b.apply([.reject(requestId: "r2"), .setPrice(price), .restock(restock)])
        #expect(a.digest != b.digest)
        b.apply(.commit(commit))
        #expect(a.digest == b.digest)
        b.apply(.setPrice(PriceSetting(item: 1, cost: 98, version: 4, opId: "p")))
        #expect(a.digest != b.digest)
        // Holds are not merged by anti-entropy and do not count.
        a.apply(.setPrice(PriceSetting(item: 1, cost: 98, version: 4, opId: "p")))
        a.apply(.hold(hold("h", item: 3)))
        #expect(a.digest == b.digest)

        var log1 = OrderLogState(replicaIndex: 0, replicaCount: 2)
        var log2 = OrderLogState(replicaIndex: 1, replicaCount: 2)
        let record = OrderRecord(
            order: 1,
            requestId: "o",
            item: 1,
            quantity: 1,
            unitCost: 10,
            timeMicros: 0,
            coordinator: "x"
        )
        let rejection = Rejection(requestId: "o", code: .outOfStock, message: "")
        log1.apply([.reject(rejection), .order(record)])
        log2.apply(.order(record))
        #expect(log1.digest == log2.digest)
    }
}
