import PygmyBookstore
import PygmyReplica

/// What a client learned about one buy.
enum SimBuyOutcome: Equatable {
    case acknowledged(BuyResponse)
    /// A definite refusal (out of stock, unknown item): the buy must not be in any log.
    case rejected(BookstoreError.Code)
    /// A timeout or an error that does not say whether the buy happened.
    case unknown
}

/// One client's record of a buy.
struct SimBuy {
    var request: BuyRequest
    var sent: Int64
    var answered: Int64?
    var outcome: SimBuyOutcome = .unknown
    var attempts = 1
}

/// A client of the frontend: buys and looks up random books, retries unknown outcomes with the same
/// request id, and records everything for the checker.
final class SimClient: SimHost {
    let index: Int
    private var remaining: Int
    private var sequence = 0
    let ledger: SimLedger

    init(index: Int, operations: Int, world: SimWorld, ledger: SimLedger) {
        self.index = index
        self.remaining = operations
        self.ledger = ledger
        super.init(name: "client-\(index)", world: world)
    }

    /// Clients do not heartbeat: they just work.
    override func boot() { after(world.random.micros(0...20_000)) { [unowned self] in nextOperation() } }

    private func nextOperation() {
        guard remaining > 0 else { return ledger.clientFinished() }
        remaining -= 1
        let think = world.random.micros(0...30_000)
        if world.random.chance(0.6) {
            sequence += 1
            let item = world.random.chance(0.02) ? 999 : world.random.int(1...ledger.items)
            let request = BuyRequest(item: item, quantity: world.random.int(1...3), requestId: "\(name)-\(sequence)")
            buy(request, attempt: 1) { [unowned self] in after(think) { [unowned self] in nextOperation() } }
        } else {
            lookup(world.random.int(1...ledger.items)) { [unowned self] in
                after(think) { [unowned self] in nextOperation() }
            }
        }
    }

    private func buy(_ request: BuyRequest, attempt: Int, _ done: @escaping () -> Void) {
        let sent = now
        if attempt == 1 { ledger.buys[request.requestId] = SimBuy(request: request, sent: sent) }
        ledger.buys[request.requestId]!.attempts = attempt
        send("frontend", .buy(request), timeout: 15_000_000) { [unowned self] reply in
            let outcome: SimBuyOutcome
            switch reply {
            case .answered(.bought(let response), _): outcome = .acknowledged(response)
            case .failed(.error(let error)) where error.code == .outOfStock || error.code == .unknownItem:
                outcome = .rejected(error.code)
            default: outcome = .unknown
            }
            ledger.buys[request.requestId]!.outcome = outcome
            ledger.buys[request.requestId]!.answered = now
            if case .acknowledged(let response) = outcome { ledger.acknowledged(response, at: now) }
            world.log("\(name) buy \(request.requestId) item \(request.item)×\(request.quantity): \(outcome)")
            // An unknown outcome may be retried with the same request id: it must not buy twice.
            if outcome == .unknown && attempt < 3 && world.random.chance(0.7) {
                return after(world.random.micros(10_000...500_000)) { [unowned self] in
                    buy(request, attempt: attempt + 1, done)
                }
            }
            done()
        }
    }

    /// After the run (and its folds): asks again, one at a time, for up to `count` of this client's
    /// earlier buys, long after their outcome was decided, and checks each answer against the first (a
    /// late retry gets the same order or the same refusal; an unknown outcome may be decided now).
    /// `pending` counts the retries not answered yet.
    func retryLate(count: Int, pending: @escaping (Int) -> Void) {
        let mine = ledger.buys.values.filter { $0.request.requestId.hasPrefix("\(name)-") }
            .sorted { $0.request.requestId < $1.request.requestId }
        var picked: [SimBuy] = []
        for buy in mine where picked.count < count && world.random.chance(0.3) { picked.append(buy) }
        pending(picked.count)
        func next(_ rest: ArraySlice<SimBuy>) {
            guard let first = rest.first else { return }
            let request = first.request
            send("frontend", .buy(request), timeout: 15_000_000) { [unowned self] reply in
                pending(-1)
                world.log("\(name) late retry of \(request.requestId): \(reply)")
                judgeLateRetry(first, reply)
                next(rest.dropFirst())
            }
        }
        next(picked[...])
    }

    private func judgeLateRetry(_ before: SimBuy, _ reply: CallResult) {
        let rid = before.request.requestId
        switch (before.outcome, reply) {
        case (.acknowledged(let first), .answered(.bought(let again), _)) where first.order != again.order:
            ledger.violation("a late retry of \(rid) was order \(again.order), first order \(first.order)")
        case (.acknowledged, .failed(.error(let error))) where error.code == .outOfStock || error.code == .unknownItem:
            ledger.violation("a late retry of the acknowledged \(rid) was refused: \(error)")
        case (.rejected, .answered(.bought(let again), _)):
            ledger.violation("a late retry of the refused \(rid) bought it (order \(again.order))")
        case (.unknown, .answered(.bought(let response), _)):
            ledger.buys[rid]!.outcome = .acknowledged(response)
            ledger.acknowledged(response, at: now)
        default: break
        }
    }

    private func lookup(_ item: ItemID, _ done: @escaping () -> Void) {
        let sent = now
        let mustInclude = ledger.acknowledgedBuys(of: item)
        send("frontend", .lookup(LookupRequest(item: item)), timeout: 15_000_000) { [unowned self] reply in
            if case .answered(.book(let book, let witness?), _) = reply {
                // A commit decided before the replica's fold horizon is counted there without being listed.
                let missing = mustInclude.subtracting(witness.committed).filter { id in
                    guard let time = ledger.orderTimes[id] else { return true }
                    return time >= witness.foldedBefore
                }
                if !missing.isEmpty {
                    ledger.violation(
                        "lookup of item \(item) sent at \(sent) µs by \(name) returned stock \(book.stock) "
                            + "without the acknowledged buys \(missing.sorted())"
                    )
                }
            }
            done()
        }
    }
}

/// Restocks a random item through the frontend now and then, recording acknowledged restocks.
final class SimRestocker: SimHost {
    let ledger: SimLedger
    private var sequence = 0

    init(world: SimWorld, ledger: SimLedger) {
        self.ledger = ledger
        super.init(name: "restocker", world: world)
    }

    override func boot() { after(200_000) { [unowned self] in restock() } }

    private func restock() {
        guard !ledger.clientsDone else { return }
        sequence += 1
        let request = RestockRequest(
            item: world.random.int(1...ledger.items),
            count: world.random.int(1...6),
            opId: "restock-\(sequence)"
        )
        ledger.restocks[request.opId] = (request, false)
        send("frontend", .restock(request), timeout: 15_000_000) { [unowned self] reply in
            if case .answered(.book, _) = reply { ledger.restocks[request.opId]!.1 = true }
            after(world.random.micros(100_000...400_000)) { [unowned self] in restock() }
        }
    }

    /// After the run (and its folds): sends up to `count` earlier restocks again, one at a time; each must
    /// apply nothing (the end checks count every restock once). `pending` counts those not answered yet.
    func retryLate(count: Int, pending: @escaping (Int) -> Void) {
        let picked = ledger.restocks.keys.sorted().filter { _ in world.random.chance(0.2) }.prefix(count)
        pending(picked.count)
        func next(_ rest: ArraySlice<String>) {
            guard let opId = rest.first, let (request, _) = ledger.restocks[opId] else { return }
            send("frontend", .restock(request), timeout: 15_000_000) { [unowned self] reply in
                pending(-1)
                world.log("restocker late retry of \(opId): \(reply)")
                if case .answered(.book, _) = reply { ledger.restocks[opId]!.1 = true }
                next(rest.dropFirst())
            }
        }
        next(picked)
    }
}
