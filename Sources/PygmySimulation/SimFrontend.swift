import PygmyBookstore

/// The frontend: the real `ReadCache` (with fill tickets) filled from catalog replicas round robin,
/// invalidated by pushes and by its own writes; buys forwarded to order replicas and retried with the
/// same request id until their outcome is known, as `FrontendNode` does.
final class SimFrontend: SimNode {
    private var cache = ReadCache<SimBook>(capacity: 64)
    private var subscribed: [String: Int] = [:]
    private var roundRobin = 0
    /// Called with every read answered from the cache (a hit), for the invariant checks.
    var onCacheHit: (ItemID) -> Void = { _ in }

    init(name: String, world: SimWorld, settings: SimSettings) {
        super.init(name: name, role: .frontend, world: world, settings: settings)
    }

    override func lostVolatileState() {
        cache = ReadCache(capacity: 64)
        subscribed = [:]
    }

    override func boot() {
        super.boot()
        every(settings.heartbeat) { [unowned self] done in maintainSubscriptions(done) }
    }

    func invalidated(_ invalidation: Invalidation) {
        cache.invalidate(.lookup(item: invalidation.item))
        cache.invalidate(.search(topic: invalidation.topic.lowercased()))
    }

    override func handle(_ request: SimRequest, from peer: String, reply: @escaping (SimResponse) -> Void) {
        switch request {
        case .lookup(let item): lookup(item, reply)
        case .buy(let buy): self.buy(buy, deadline: now + settings.buyDeadline, reply)
        case .restock(let restock): self.restock(restock, reply)
        default: super.handle(request, from: peer, reply: reply)
        }
    }

    // MARK: Reads

    private func lookup(_ item: ItemID, _ reply: @escaping (SimResponse) -> Void) {
        switch cache.get(.lookup(item: item)) {
        case .hit(let book):
            onCacheHit(item)
            reply(.book(book))
        case .miss(let ticket):
            onSomeReplica(.catalog, .lookup(item)) { [unowned self] response in
                if case .book(let book) = response { cache.fill(ticket, book) }
                reply(response)
            }
        }
    }

    /// Tries the live replicas of `role` round robin until one answers with something other than a
    /// retryable error.
    private func onSomeReplica(_ role: SimRole, _ request: SimRequest, _ done: @escaping (SimResponse) -> Void) {
        var candidates = up(role)
        if candidates.isEmpty { candidates = peers(role) }
        let start = roundRobin % max(1, candidates.count)
        roundRobin += 1
        var order = (candidates[start...] + candidates[..<start])[...]
        var last = SimResponse.error(BookstoreError(.unavailable, "no \(role) replica is up"))
        func next() {
            guard let replica = order.popFirst() else { return done(last) }
            callPeer(replica, request, timeout: settings.callTimeout * 5 / 2) { reply in
                switch reply {
                case .response(.error(let error)) where Self.isRetryable(error.code):
                    last = .error(error)
                    next()
                case .response(let response):
                    done(response)
                case .failed(_, let why):
                    last = .error(BookstoreError(.unavailable, "\(replica): \(why)"))
                    next()
                }
            }
        }
        next()
    }

    static func isRetryable(_ code: BookstoreError.Code) -> Bool { code == .notReady || code == .unavailable }

    // MARK: Writes

    private func buy(_ request: BuyRequest, deadline: Int64, _ reply: @escaping (SimResponse) -> Void) {
        onSomeReplica(.order, .buy(request)) { [unowned self] response in
            if case .error(let error) = response, Self.isRetryable(error.code) || error.code == .inProgress,
                now < deadline
            {
                return after(20_000) { [unowned self] in buy(request, deadline: deadline, reply) }
            }
            cache.invalidate(.lookup(item: request.item))
            reply(response)
        }
    }

    private func restock(_ request: RestockRequest, _ reply: @escaping (SimResponse) -> Void) {
        let replicas = up(.catalog)
        guard !replicas.isEmpty else { return reply(.error(BookstoreError(.unavailable, "no catalog replica is up"))) }
        callAll(replicas, .restock(request), timeout: settings.callTimeout * 5 / 2) { [unowned self] replies in
            cache.invalidate(.lookup(item: request.item))
            let answers = replicas.compactMap { replies[$0] }
            for case .response(.book(let book)) in answers { return reply(.book(book)) }
            for case .response(let other) in answers { return reply(other) }
            reply(.error(BookstoreError(.unavailable, "no catalog replica answered the restock")))
        }
    }

    /// Subscribes to invalidations at every catalog incarnation not yet subscribed to; a new
    /// subscription may have missed pushes, so the cache is emptied.
    private func maintainSubscriptions(_ done: @escaping () -> Void) {
        let due = up(.catalog).filter { subscribed[$0] != lastStatus[$0]?.incarnation && lastStatus[$0] != nil }
        callEach(due, { _ in .subscribe }, timeout: 1_000_000) { [unowned self] replies in
            for case (let catalog, .response(.status(let status))) in replies {
                subscribed[catalog] = status.incarnation
                cache.removeAll()
            }
            done()
        }
    }
}
