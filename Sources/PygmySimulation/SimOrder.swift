import PygmyBookstore

/// An order replica: `OrderLogState` (durable) and the real `BuyCoordinator`, driven the way
/// `OrderNode` drives them, with the same recovery, redelivery, anti-entropy and join barrier.
final class SimOrder: SimNode {
    /// Durable.
    private(set) var log: OrderLogState
    /// Buys running here, with the callers waiting for each.
    private var running: [String: [(SimResponse) -> Void]] = [:]
    private var abortRequested: Set<String> = []
    /// Catalog replicas each running buy holds at, for the join barrier.
    private var buyTargets: [Int: Set<String>] = [:]
    private var nextToken = 0
    /// Called after every change to the log, for the invariant checks.
    var onWrite: (SimOrder) -> Void = { _ in }
    private var redelivery: RedeliverySchedule

    init(name: String, index: Int, count: Int, world: SimWorld, settings: SimSettings) {
        log = OrderLogState(replicaIndex: index, replicaCount: count)
        redelivery = RedeliverySchedule(grace: .microseconds(settings.redeliveryGrace))
        super.init(name: name, role: .order, world: world, settings: settings)
    }

    override func lostVolatileState() {
        redelivery = RedeliverySchedule(grace: .microseconds(settings.redeliveryGrace))
        running = [:]
        abortRequested = []
        buyTargets = [:]
    }

    override func boot() {
        super.boot()
        after(settings.heartbeat) { [unowned self] in recover() }
        every(settings.heartbeat * 2) { [unowned self] done in redeliver(done) }
        every(settings.heartbeat * 5) { [unowned self] done in antiEntropy(done) }
    }

    private func apply(_ mutations: [OrderMutation]) {
        guard !mutations.isEmpty else { return }
        log.apply(mutations)
        onWrite(self)
    }

    // MARK: Serving

    override func handle(_ request: SimRequest, from peer: String, reply: @escaping (SimResponse) -> Void) {
        switch request {
        case .buy(let buy): self.buy(buy, reply)
        case .resolve(let request):
            if let record = log.orders[request.requestId] {
                return reply(
                    .resolution(
                        .committed(
                            CommittedBuy(requestId: record.requestId, item: record.item, quantity: record.quantity)
                        )
                    )
                )
            }
            if running[request.requestId] != nil { abortRequested.insert(request.requestId) }
            reply(.resolution(.aborted))
        case .replicate(let request):
            apply(log.mutationsToMerge(orders: request.orders, rejections: request.rejections))
            reply(.ok)
        case .listOrders:
            reply(.log(snapshot))
        case .join(let request):
            detector.succeeded(request.catalog, now: clock)
            world.log("\(name) join barrier for \(request.catalog) from \(peer)")
            awaitBarrier(request.catalog, deadline: now + 8_000_000) { [unowned self] in
                world.log("\(name) join barrier for \(request.catalog) passed")
                reply(.ok)
            }
        default:
            super.handle(request, from: peer, reply: reply)
        }
    }

    var snapshot: OrderLogSnapshot {
        OrderLogSnapshot(
            orders: log.orderedLog,
            rejections: log.rejections.values.sorted { $0.requestId < $1.requestId }
        )
    }

    private func awaitBarrier(_ catalog: String, deadline: Int64, _ done: @escaping () -> Void) {
        if now < deadline, buyTargets.values.contains(where: { !$0.contains(catalog) }) {
            after(2_000) { [unowned self] in awaitBarrier(catalog, deadline: deadline, done) }
        } else {
            done()
        }
    }

    // MARK: Buying (OrderNode.buy / coordinate / attemptBuy)

    private func buy(_ request: BuyRequest, _ reply: @escaping (SimResponse) -> Void) {
        guard (1...1_000_000).contains(request.quantity), !request.requestId.isEmpty else {
            return reply(.error(BookstoreError(.invalidValue, "bad buy")))
        }
        if running[request.requestId] != nil { return running[request.requestId]!.append(reply) }
        if let outcome = log.outcome(of: request.requestId) { return answerFromLog(outcome, reply) }
        running[request.requestId] = [reply]
        coordinate(request, attempt: 1) { [unowned self] response in
            for waiter in running.removeValue(forKey: request.requestId) ?? [] { waiter(response) }
        }
    }

    /// `OrderNode.answerFromLog`: an order is answered only once every catalog replica has it or is down.
    private func answerFromLog(_ outcome: BuyOutcome, _ reply: @escaping (SimResponse) -> Void) {
        guard case .ordered(let record) = outcome, log.undelivered.contains(record.requestId) else {
            return reply(Self.answer(outcome))
        }
        deliverLogged(record) { [unowned self] acked, refused in
            let missing = peers(.catalog).filter { !acked.contains($0) && !refused.contains($0) }
            guard missing.isEmpty else {
                return reply(
                    .error(BookstoreError(.unavailable, "order \(record.order) not yet confirmed by \(missing)"))
                )
            }
            reply(Self.answer(outcome))
        }
    }

    static func answer(_ outcome: BuyOutcome) -> SimResponse {
        switch outcome {
        case .ordered(let record): .bought(BuyResponse(record))
        case .rejected(let rejection): .error(BookstoreError(rejection.code, rejection.message))
        }
    }

    private func coordinate(_ request: BuyRequest, attempt: Int, _ done: @escaping (SimResponse) -> Void) {
        attemptBuy(request) { [unowned self] outcome in
            switch outcome {
            case .ordered(let response): done(.bought(response))
            case .refused(let error):
                if error.code == .inProgress, let outcome = log.outcome(of: request.requestId) {
                    return answerFromLog(outcome, done)
                }
                done(.error(error))
            case .retry(let reason) where attempt < 3:
                world.log("\(name) retries \(request.requestId): \(reason)")
                coordinate(request, attempt: attempt + 1, done)
            case .retry(let reason):
                done(.error(BookstoreError(.unavailable, "buy could not complete: \(reason)")))
            }
        }
    }

    private final class Run {
        var machine: BuyCoordinator
        init(_ machine: BuyCoordinator) { self.machine = machine }
    }

    private func attemptBuy(_ request: BuyRequest, _ done: @escaping (BuyCoordinator.Outcome) -> Void) {
        var targets = up(.catalog)
        if targets.isEmpty { targets = peers(.catalog) }
        abortRequested.remove(request.requestId)
        let token = nextToken
        nextToken += 1
        buyTargets[token] = Set(targets)
        let run = Run(BuyCoordinator(request: request, coordinator: name, targets: targets, catalogs: peers(.catalog)))
        let actions = run.machine.start()
        drive(run, actions) { [unowned self] outcome in
            buyTargets.removeValue(forKey: token)
            done(outcome)
        }
    }

    /// Executes `actions` in order, then what the machine awaits, until it is done.
    private func drive(
        _ run: Run,
        _ actions: [BuyCoordinator.Action],
        _ done: @escaping (BuyCoordinator.Outcome) -> Void
    ) {
        var remaining = actions[...]
        guard let action = remaining.popFirst() else { return advance(run, done) }
        switch action {
        case .persist(let mutations):
            apply(mutations)
            drive(run, Array(remaining), done)
        case .abort(let replicas, let abort):
            callAll(replicas, .abort(abort), timeout: settings.callTimeout) { [unowned self] _ in
                drive(run, Array(remaining), done)
            }
        case .checkpoint(let step):
            world.log("\(name) \(run.machine.request.requestId) \(step)")
            drive(run, Array(remaining), done)
        }
    }

    private func advance(_ run: Run, _ done: @escaping (BuyCoordinator.Outcome) -> Void) {
        let id = run.machine.request.requestId
        switch run.machine.awaiting {
        case .holds(let replicas, let hold):
            callAll(replicas, .hold(hold), timeout: settings.callTimeout) { [unowned self] replies in
                var answers: [String: BuyCoordinator.HoldReply] = [:]
                for (replica, reply) in replies {
                    switch reply {
                    case .response(.hold(let outcome)): answers[replica] = .answered(outcome)
                    case .response(let other): answers[replica] = .failed("\(other)")
                    case .failed(_, let why): answers[replica] = .failed(why)
                    }
                }
                drive(run, run.machine.holdsAnswered(answers), done)
            }
        case .decision:
            let actions = run.machine.decide(
                log: log,
                abortRequested: abortRequested.remove(id) != nil,
                timeMicros: now
            )
            drive(run, actions, done)
        case .replication(let replication):
            callAll(up(.order), .replicate(replication), timeout: settings.callTimeout) { [unowned self] _ in
                drive(run, run.machine.replicated(), done)
            }
        case .commits(let replicas, let buy):
            deliver(buy, to: replicas) { [unowned self] acked, refused in
                drive(run, run.machine.committed(acknowledgedBy: acked, refusedBy: refused), done)
            }
        case .done(let outcome):
            done(outcome)
        }
    }

    /// Sends the commit to `replicas`, waits for every answer, and reports which acknowledged it and which
    /// refused the connection (their process is down).
    private func deliver(
        _ buy: CommittedBuy,
        to replicas: [String],
        _ done: @escaping (Set<String>, Set<String>) -> Void
    ) {
        callAll(replicas, .commit(buy), timeout: settings.callTimeout) { replies in
            var acked = Set<String>()
            var refused = Set<String>()
            for (replica, reply) in replies {
                switch reply {
                case .response(.ok): acked.insert(replica)
                case .failed(definite: true, _): refused.insert(replica)
                default: break
                }
            }
            done(acked, refused)
        }
    }

    // MARK: Recovery and background work

    private func recover() {
        callEach(up(.order), { _ in .listOrders }, timeout: settings.callTimeout * 2) { [unowned self] replies in
            for case (_, .response(.log(let peerLog))) in replies {
                apply(log.mutationsToMerge(orders: peerLog.orders, rejections: peerLog.rejections))
            }
            var pending = log.pending.keys.filter { running[$0] == nil }.sorted()[...]
            func next() {
                guard let id = pending.popFirst() else { return redeliver(all: true) {} }
                apply([.forget(requestId: id)])
                callAll(
                    up(.catalog),
                    .abort(AbortRequest(requestId: id, coordinator: name)),
                    timeout: settings.callTimeout
                ) {
                    _ in next()
                }
            }
            next()
        }
    }

    /// `OrderNode.redeliver`: the orders `RedeliverySchedule` finds due (all of them after a restart).
    private func redeliver(all: Bool = false, _ done: @escaping () -> Void) {
        var ids = (all ? log.undelivered.sorted() : redelivery.due(log.undelivered, now: clock))[...]
        func next() {
            guard let id = ids.popFirst() else { return done() }
            guard let record = log.orders[id], log.undelivered.contains(id) else { return next() }
            deliverLogged(record) { _, _ in next() }
        }
        next()
    }

    private func deliverLogged(_ record: OrderRecord, _ done: @escaping (Set<String>, Set<String>) -> Void) {
        let buy = CommittedBuy(requestId: record.requestId, item: record.item, quantity: record.quantity)
        deliver(buy, to: peers(.catalog)) { [unowned self] acked, refused in
            if acked.isSuperset(of: peers(.catalog)) { apply([.delivered(requestId: record.requestId)]) }
            done(acked, refused)
        }
    }

    override var status: SimStatus { SimStatus(ready: true, incarnation: incarnation, digest: log.digest.value) }

    private func antiEntropy(_ done: @escaping () -> Void) {
        let sources = up(.order).filter { shouldPull(from: $0, ownDigest: log.digest.value) }
        callEach(sources, { _ in .listOrders }, timeout: settings.callTimeout * 2) { [unowned self] replies in
            for case (_, .response(.log(let peerLog))) in replies {
                apply(log.mutationsToMerge(orders: peerLog.orders, rejections: peerLog.rejections))
            }
            done()
        }
    }
}
