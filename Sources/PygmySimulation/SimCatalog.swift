import PygmyBookstore

/// A catalog replica: `CatalogState` (durable) behind the same handlers, rejoin protocol, stale-hold
/// resolution and anti-entropy as `CatalogNode`, with invalidations pushed to subscribers before
/// every write.
final class SimCatalog: SimNode {
    /// Durable: survives crashes (the real replica persists each decision before applying it).
    private(set) var state = CatalogState()
    private(set) var ready = false
    private var subscribers: [String: Int] = [:]
    private var joinStarted: Int64 = 0
    /// Called after every write, for the invariant checks.
    var onWrite: (SimCatalog) -> Void = { _ in }

    init(name: String, world: SimWorld, settings: SimSettings, books: [CatalogSeed]) {
        super.init(name: name, role: .catalog, world: world, settings: settings)
        state.apply(books.map(CatalogMutation.addBook))
    }

    override var status: SimStatus { SimStatus(ready: ready, incarnation: incarnation, digest: state.digest.value) }

    override func lostVolatileState() {
        ready = false
        subscribers = [:]
    }

    override func boot() {
        super.boot()
        after(settings.heartbeat) { [unowned self] in join() }
        every(settings.holdTimeout / 2) { [unowned self] done in resolveStaleHolds(done) }
        every(settings.heartbeat * 5) { [unowned self] done in antiEntropy(done) }
    }

    // MARK: Serving

    override func handle(_ request: SimRequest, from peer: String, reply: @escaping (SimResponse) -> Void) {
        do {
            switch request {
            case .hold(let request):
                let hold = Hold(
                    requestId: request.requestId,
                    item: request.item,
                    quantity: request.quantity,
                    coordinator: request.coordinator,
                    createdMicros: now
                )
                let (outcome, mutations) = try state.decideHold(hold, checked: ready)
                world.log(
                    "\(name) hold \(request.requestId) item \(request.item)×\(request.quantity) by \(request.coordinator): "
                        + "\(outcome) (available \(state.available(request.item)), \(ready ? "ready" : "joining"))"
                )
                write(mutations)
                reply(.hold(outcome))
            case .commit(let buy):
                let mutations = try state.decideCommit(buy)
                if !mutations.isEmpty { world.log("\(name) commit \(buy.requestId) item \(buy.item)×\(buy.quantity)") }
                write(mutations)
                reply(.ok)
            case .abort(let abort):
                let mutations =
                    abort.final == true
                    ? state.decideReject(requestId: abort.requestId)
                    : state.decideAbort(requestId: abort.requestId, coordinator: abort.coordinator)
                if !mutations.isEmpty { world.log("\(name) release \(abort.requestId)") }
                write(mutations)
                reply(.ok)
            case .restock(let request):
                write(try state.decideRestock(Restock(opId: request.opId, item: request.item, count: request.count)))
                reply(.book(try book(request.item)))
            case .lookup(let item):
                guard ready else { throw BookstoreError(.notReady, "\(name) is resynchronising") }
                reply(.book(try book(item)))
            case .snapshot:
                reply(.snapshot(state.snapshot()))
            case .subscribe:
                subscribers[peer] = world.node(peer).incarnation
                reply(.status(status))
            default:
                super.handle(request, from: peer, reply: reply)
            }
        } catch let error as BookstoreError {
            reply(.error(error))
        } catch {
            reply(.error(BookstoreError(.invalidValue, "\(error)")))
        }
    }

    private func book(_ item: ItemID) throws -> SimBook {
        SimBook(
            book: try state.lookup(item),
            committed: Set(state.committed.values.filter { $0.item == item }.map(\.requestId))
        )
    }

    /// Invalidate, then apply (persisting is applying here: the state is the durable part).
    private func write(_ mutations: [CatalogMutation]) {
        guard !mutations.isEmpty else { return }
        for invalidation in state.invalidations(for: mutations) {
            for (subscriber, life) in subscribers.sorted(by: { $0.key < $1.key }) {
                let target = world.node(subscriber)
                world.transmit(to: subscriber, lossless: true) {
                    // A push travels on the subscriber's connection: gone if it restarted.
                    guard target.alive, target.incarnation == life else { return }
                    (target as? SimFrontend)?.invalidated(invalidation)
                }
            }
        }
        state.apply(mutations)
        onWrite(self)
    }

    // MARK: Rejoin (CatalogNode.join)

    private func join() {
        joinStarted = now
        waitForOrderReplicas()
    }

    private var grace: Int64 {
        Int64(settings.failureTimeout.components.seconds * 1_000_000)
            + Int64(settings.failureTimeout.components.attoseconds / 1_000_000_000_000)
    }

    /// Gives the failure detector time to form an opinion of every order replica.
    private func waitForOrderReplicas() {
        if peers(.order).contains(where: { !isUp($0) }) && now - joinStarted < grace * 2 {
            after(settings.heartbeat / 2) { [unowned self] in waitForOrderReplicas() }
        } else {
            joinStep()
        }
    }

    private func joinStep() {
        guard !ready else { return }
        let retry = { [unowned self] (why: String) in
            world.log("\(name) join: \(why); retrying")
            after(settings.heartbeat) { [unowned self] in joinStep() }
        }
        // 1. The join barrier at every live order replica.
        callEach(up(.order), { [name] _ in .join(JoinRequest(catalog: name)) }, timeout: 10_000_000) {
            [unowned self] barrier in
            for (order, reply) in barrier {
                guard case .response(.ok) = reply else { return retry("barrier at \(order): \(reply)") }
            }
            // 2. Merge a ready peer's state; with none ready after the grace period, every reachable peer.
            let catalogs = peers(.catalog)
            let readyPeers = catalogs.filter { isUp($0) && lastStatus[$0]?.ready == true }
            let sources: [String]
            if let first = readyPeers.first {
                sources = [first]
            } else if (now - joinStarted >= grace * 2 || catalogs.isEmpty) && peers(.order).allSatisfy(isUp) {
                // Without a ready peer, only the logs of every order replica vouch for the commits.
                sources = catalogs.filter(isUp)
            } else {
                return retry("no ready peer yet")
            }
            callEach(sources, { _ in .snapshot }, timeout: settings.callTimeout * 2) { [unowned self] snapshots in
                for (_, reply) in snapshots {
                    guard case .response(.snapshot(let snapshot)) = reply else { return retry("snapshot: \(reply)") }
                    write(state.mutationsToMerge(snapshot))
                }
                // 3. Merge every commit the order log knows.
                callEach(up(.order), { _ in .listOrders }, timeout: settings.callTimeout * 2) { [unowned self] logs in
                    for (_, reply) in logs {
                        guard case .response(.log(let log)) = reply else { return retry("order log: \(reply)") }
                        let commits = log.orders.map {
                            CommittedBuy(requestId: $0.requestId, item: $0.item, quantity: $0.quantity)
                        }
                        write(
                            state.mutationsToMerge(
                                CatalogSnapshot(books: [], prices: [], holds: [], committed: commits, restocks: [])
                            )
                        )
                    }
                    ready = true
                    world.log("\(name) ready (merged from \(sources))")
                }
            }
        }
    }

    // MARK: Background work

    /// `CatalogNode.resolveStaleHolds`: a hold is released only on its coordinator's word.
    private func resolveStaleHolds(_ done: @escaping () -> Void) {
        var stale = state.staleHolds(nowMicros: now, timeoutMicros: settings.holdTimeout)[...]
        func next() {
            guard let hold = stale.popFirst() else { return done() }
            let request = SimRequest.resolve(ResolveRequest(requestId: hold.requestId))
            callPeer(hold.coordinator, request, timeout: 1_000_000) { [unowned self] reply in
                if case .response(.resolution(let answer)) = reply {
                    switch answer {
                    case .committed(let buy):
                        world.log("\(name) stale hold \(hold.requestId): committed")
                        write((try? state.decideCommit(buy)) ?? [])
                    case .aborted:
                        world.log("\(name) stale hold \(hold.requestId): aborted by \(hold.coordinator)")
                        write(state.decideAbort(requestId: hold.requestId, coordinator: hold.coordinator))
                    case .unknown: break
                    }
                    return next()
                }
                let others = up(.order).filter { $0 != hold.coordinator }
                callEach(others, { _ in request }, timeout: 1_000_000) { [unowned self] replies in
                    for case (_, .response(.resolution(.committed(let buy)))) in replies {
                        write((try? state.decideCommit(buy)) ?? [])
                        break
                    }
                    next()
                }
            }
        }
        next()
    }

    /// `CatalogNode.antiEntropy`: pull commits, restocks and prices from ready peers.
    private func antiEntropy(_ done: @escaping () -> Void) {
        guard ready else { return done() }
        let sources = up(.catalog).filter {
            lastStatus[$0]?.ready == true && shouldPull(from: $0, ownDigest: state.digest.value)
        }
        callEach(sources, { _ in .snapshot }, timeout: settings.callTimeout * 2) { [unowned self] replies in
            for case (_, .response(.snapshot(var snapshot))) in replies {
                snapshot.holds = []
                write(state.mutationsToMerge(snapshot))
            }
            done()
        }
    }
}
