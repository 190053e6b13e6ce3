import PygmyBookstore
import PygmyReplica
import Testing

/// The order replica's core, driven input by input: the decisions the simulator found wrong in the
/// nodes' old orchestration, pinned.
@Suite struct OrderReplicaTests {
    static let peers: [ReplicaRole: [String]] = [.catalog: ["catalog-1", "catalog-2"], .order: ["order-2"]]

    func replica() -> CoreDriver<OrderReplica> {
        let config = OrderReplica.Config(name: "order-1", peers: Self.peers, timing: ReplicaTiming())
        var driver = CoreDriver(
            OrderReplica(
                config: config,
                log: OrderLogState(replicaIndex: 0, replicaCount: 2),
                acceptor: MembershipAcceptor(current: Membership(epoch: 1, catalogs: ["catalog-1", "catalog-2"])),
                now: ReplicaTime(monotonic: .zero, wallMicros: 0)
            )
        )
        driver.feed(.boot)
        return driver
    }

    /// Heartbeat rounds until `failing` has failed often enough to be down in the detector.
    func heartbeatRounds(_ driver: inout CoreDriver<OrderReplica>, failing: String, with failure: CallFailure) {
        for _ in 0..<4 {
            driver.now += .milliseconds(200)
            driver.feed(.timer(.heartbeat))
            driver.heartbeats(
                up: ["catalog-1", "catalog-2", "order-2"].filter { $0 != failing }.reduce(into: []) { $0.insert($1) },
                failure: failure
            )
        }
    }

    @Test("a catalog replica that only times out is not taken for crashed: no buy holds without it")
    func anUnreachableReplicaIsNeverLeftOut() {
        var driver = replica()
        heartbeatRounds(&driver, failing: "catalog-2", with: .unreachable("no answer within 400 ms"))
        let buy = driver.request(.buy(BuyRequest(item: 1, quantity: 1, requestId: "r1")))
        #expect(driver.takeCalls(where: \.isHold).isEmpty, "no hold may go out while catalog-2 is silent")
        guard case .failure(let error)? = driver.answer(to: buy) else {
            Issue.record("the buy was not refused at once: \(driver.effects)")
            return
        }
        #expect(error.code == .unavailable && error.message.contains("catalog-2"))
    }

    @Test("a catalog replica whose connection is refused is left out: buys hold at the others")
    func aRefusingReplicaIsLeftOut() {
        var driver = replica()
        heartbeatRounds(&driver, failing: "catalog-2", with: .refused("connection refused"))
        _ = driver.request(.buy(BuyRequest(item: 1, quantity: 1, requestId: "r1")))
        let holds = driver.takeCalls(where: \.isHold)
        #expect(holds.map(\.1) == ["catalog-1"])
    }

    @Test("a refusal is stamped at its first final abort, and the fold floor waits for the log to have it")
    func aRefusalInFlightHoldsTheFoldFloor() {
        var driver = replica()
        heartbeatRounds(&driver, failing: "none", with: .refused("unused"))
        driver.feed(.timer(.recover))
        for (id, _, _) in driver.takeCalls(where: { if case .listOrders = $0 { true } else { false } }) {
            driver.feed(.reply(id, .answered(.log(OrderLogSnapshot(orders: [], rejections: [])), connection: 1)))
        }
        #expect(!driver.core.recovering)
        _ = driver.request(.buy(BuyRequest(item: 1, quantity: 1, requestId: "r1")))
        for (id, peer, _) in driver.takeCalls(where: \.isHold) {
            let outcome: HoldOutcome =
                peer == "catalog-1" ? .outOfStock(available: 0) : .held(unitCost: 10, checked: true)
            driver.feed(.reply(id, .answered(.hold(outcome), connection: 1)))
        }
        let aborts = driver.takeCalls(where: { if case .abort(let a) = $0 { a.final == true } else { false } })
        #expect(aborts.map(\.1).sorted() == ["catalog-1", "catalog-2"])
        guard case .abort(let first)? = aborts.first?.2, let stamp = first.refusedAt else {
            Issue.record("the final abort carries no stamp: \(aborts)")
            return
        }
        // Later rounds: the floor stays at the stamp however far the clock and the promises move.
        driver.now += .seconds(3)
        driver.feed(.timer(.heartbeat))
        driver.heartbeats(up: ["catalog-1", "catalog-2", "order-2"])
        #expect(driver.core.log.promisedFloor > stamp)
        #expect(driver.core.status.fold?.floor == stamp)
        for (id, _, _) in aborts { driver.feed(.reply(id, .answered(.ok, connection: 1))) }
        for (id, _, _) in driver.takeCalls(where: { if case .replicate = $0 { true } else { false } }) {
            driver.feed(.reply(id, .answered(.ok, connection: 1)))
        }
        #expect(driver.core.log.rejections["r1"]?.timeMicros == stamp, "logged under the stamp the catalogs have")
        driver.now += .milliseconds(200)
        driver.feed(.timer(.heartbeat))
        #expect((driver.core.status.fold?.floor ?? 0) > stamp, "the log has it: the floor moves on")
    }

    @Test("recovery asks a peer whose log did not come again before serving (found by the history bench)")
    func recoveryWaitsForAPeersLog() {
        var driver = replica()
        driver.heartbeats(up: ["catalog-1", "catalog-2", "order-2"])
        let peerOrder = OrderRecord(
            order: 2,
            requestId: "missed",
            item: 1,
            quantity: 1,
            unitCost: 10,
            timeMicros: 5,
            coordinator: "order-2"
        )
        func recoveryRound(answer: CallResult) {
            driver.now += .milliseconds(200)
            driver.feed(.timer(.heartbeat))
            driver.heartbeats(up: ["catalog-1", "catalog-2", "order-2"])
            driver.feed(.timer(.recover))
            let pulls = driver.takeCalls(to: "order-2", where: { if case .listOrders = $0 { true } else { false } })
            #expect(pulls.count == 1)
            for (id, _, _) in pulls { driver.feed(.reply(id, answer)) }
        }
        recoveryRound(answer: .failed(.unreachable("no answer within 4000 ms")))
        #expect(driver.core.recovering, "a failed pull counted as done: ready without order-2's log")
        recoveryRound(answer: .answered(.log(OrderLogSnapshot(orders: [peerOrder], rejections: [])), connection: 1))
        #expect(!driver.core.recovering)
        #expect(driver.core.log.orders["missed"] == peerOrder)
    }

    @Test("recovery gives up on a silent peer after a few rounds, and on a down one at once")
    func recoveryDoesNotWaitForeverForASilentPeer() {
        var driver = replica()
        driver.heartbeats(up: ["catalog-1", "catalog-2", "order-2"])
        for _ in 0..<3 where driver.core.recovering {
            driver.now += .milliseconds(200)
            driver.feed(.timer(.heartbeat))
            driver.heartbeats(up: ["catalog-1", "catalog-2", "order-2"])
            driver.feed(.timer(.recover))
            for (id, _, _) in driver.takeCalls(where: { if case .listOrders = $0 { true } else { false } }) {
                driver.feed(.reply(id, .failed(.unreachable("no answer"))))
            }
        }
        #expect(!driver.core.recovering, "recovery waited for ever for a silent peer")
    }

    @Test("the join barrier fails at its deadline instead of passing")
    func theJoinBarrierFailsAtItsDeadline() {
        var driver = replica()
        heartbeatRounds(&driver, failing: "catalog-2", with: .refused("connection refused"))
        // A buy holds at catalog-1 only (catalog-2 is down) and waits for its hold.
        _ = driver.request(.buy(BuyRequest(item: 1, quantity: 1, requestId: "r1")))
        #expect(driver.takeCalls(where: \.isHold).count == 1)
        // catalog-2 restarts and asks for the barrier: the running buy did not include it.
        let join = driver.request(.join(JoinRequest(catalog: "catalog-2")))
        #expect(driver.answer(to: join) == nil)
        let deadline = driver.effects.compactMap { effect -> OrderReplica.Timer? in
            if case .schedule(let timer, _) = effect, case .barrierDeadline = timer { return timer }
            return nil
        }
        #expect(deadline.count == 1)
        driver.now += ReplicaTiming().joinBarrierTimeout
        driver.feed(.timer(deadline[0]))
        guard case .failure(let error)? = driver.answer(to: join) else {
            Issue.record("the barrier answered \(String(describing: driver.answer(to: join))) at its deadline")
            return
        }
        #expect(error.code == .unavailable)
    }

    @Test("the join barrier passes once the buys without the joiner are done")
    func theJoinBarrierPassesWhenTheBuysAreDone() {
        var driver = replica()
        heartbeatRounds(&driver, failing: "catalog-2", with: .refused("connection refused"))
        _ = driver.request(.buy(BuyRequest(item: 1, quantity: 1, requestId: "r1")))
        let hold = driver.takeCalls(where: \.isHold)[0]
        let join = driver.request(.join(JoinRequest(catalog: "catalog-2")))
        // The hold is refused for good (out of stock): the refusal is made final at both catalogs.
        driver.feed(.reply(hold.0, .answered(.hold(.outOfStock(available: 0)), connection: 1)))
        for (id, _, _) in driver.takeCalls(where: { if case .abort = $0 { true } else { false } }) {
            driver.feed(.reply(id, .answered(.ok, connection: 1)))
        }
        for (id, _, _) in driver.takeCalls(where: { if case .replicate = $0 { true } else { false } }) {
            driver.feed(.reply(id, .answered(.ok, connection: 1)))
        }
        #expect(driver.answer(to: join) == .success(.ok))
    }
}
