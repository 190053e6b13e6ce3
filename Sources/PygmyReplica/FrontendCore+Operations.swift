import PygmyBookstore

/// Serving clients: reads from the cache or one replica, buys retried until their outcome is known,
/// admin writes at every live catalog replica.
extension FrontendCore {
    mutating func serve(_ id: InboundID, _ request: PeerRequest) {
        switch request {
        case .heartbeat:
            effects.append(.answer(id, .success(.status(status))))
        case .lookup(let lookup):
            read(id, request, key: .lookup(item: lookup.item))
        case .search(let search):
            read(id, request, key: .search(topic: search.topic.lowercased()))
        case .buy(let buy):
            guard buy.quantity > 0 else {
                return fail(id, BookstoreError(.invalidValue, "quantity must be positive, not \(buy.quantity)"))
            }
            guard buy.item > 0 else {
                return fail(id, BookstoreError(.unknownItem, "no book with item number \(buy.item)"))
            }
            if let down = buyImpossible() { return fail(id, down) }
            start(
                Operation(
                    inbound: id,
                    request: request,
                    kind: .buy(buy, deadline: now + timing.buyDeadline),
                    role: .order
                )
            )
        case .listOrders:
            start(Operation(inbound: id, request: request, kind: .orders, role: .order))
        case .restock(let restock):
            admin(Operation(inbound: id, request: request, kind: .admin(restock.item), role: .catalog))
        case .setCost(let setCost):
            admin(Operation(inbound: id, request: request, kind: .admin(setCost.item), role: .catalog))
        case .hold, .commit, .abort, .snapshot, .subscribe, .resolve, .replicate, .join, .prepare, .accept, .learn:
            fail(id, BookstoreError(.invalidValue, "the frontend does not serve \(request.name)"))
        }
    }

    private mutating func fail(_ id: InboundID, _ error: BookstoreError) {
        effects.append(.answer(id, .failure(error)))
    }

    /// Whether cached reads may be served: while a catalog replica this frontend is subscribed to holds a
    /// read lease, its pushes reach the cache before any buy that replica takes part in is acknowledged. A
    /// frontend cut off from the members of the current membership stops serving from its cache by the
    /// time a buy without them can be acknowledged.
    var cacheUsable: Bool {
        subscribed.keys.contains { (leases[$0] ?? .zero) > now }
    }

    private mutating func read(_ id: InboundID, _ request: PeerRequest, key: CacheKey) {
        guard cacheUsable else {
            return start(Operation(inbound: id, request: request, kind: .read(nil), role: .catalog))
        }
        switch cache.get(key) {
        case .hit(.book(let book, let witness)):
            effects.append(.answer(id, .success(.book(book, witness))))
        case .hit(.search(let response)):
            effects.append(.answer(id, .success(.search(response))))
        case .miss(let ticket):
            start(Operation(inbound: id, request: request, kind: .read(ticket), role: .catalog))
        }
    }

    private mutating func start(_ operation: Operation) {
        var operation = operation
        operation.candidates = rotation(operation.role)
        let op = nextOperation
        nextOperation += 1
        operations[op] = operation
        tryNext(op)
    }

    /// Sends the operation to its next candidate replica, or ends it when none is left.
    mutating func tryNext(_ op: UInt64) {
        guard var operation = operations[op] else { return }
        guard !operation.candidates.isEmpty else { return exhausted(op) }
        let replica = operation.candidates.removeFirst()
        operations[op] = operation
        effects.append(
            .call(
                calls.open(.op(op, replica: replica)),
                peer: replica,
                operation.request,
                timeout: timing.frontendCallTimeout
            )
        )
    }

    /// Every candidate failed: a buy tries again after a pause until its deadline; the rest give up.
    private mutating func exhausted(_ op: UInt64) {
        guard var operation = operations[op] else { return }
        if case .buy(_, let deadline) = operation.kind, now < deadline, buyImpossible() == nil {
            // 20 ms, 40 ms, ... up to 640 ms: an outcome that is only late comes back fast, and a cluster
            // that cannot sell is not asked fifty times a second per waiting buy.
            let pause = min(timing.buyRetryPause * (1 << min(operation.rounds, 5)), deadline - now)
            operation.rounds += 1
            operations[op] = operation
            effects.append(.schedule(.retryBuy(op), after: pause))
            return
        }
        operations.removeValue(forKey: op)
        if case .buy(let buy, _) = operation.kind { cache.invalidate(.lookup(item: buy.item)) }
        if case .buy = operation.kind, let down = buyImpossible() { return fail(operation.inbound, down) }
        if let error = operation.lastError {
            return fail(operation.inbound, error)
        }
        let tried = operation.failures.isEmpty ? "none is configured" : operation.failures.joined(separator: "; ")
        fail(
            operation.inbound,
            BookstoreError(.unavailable, "no \(operation.role.rawValue) replica could answer (\(tried)); retry later")
        )
    }

    /// Why no buy can succeed now, or nil: every catalog replica, or every order replica, is known to be
    /// down (its process refused the connection). A buy then fails at once with 1007 instead of retrying
    /// until its deadline; a retry with the same request id once a replica is back learns the outcome.
    func buyImpossible() -> BookstoreError? {
        for role in [ReplicaRole.catalog, .order] {
            let names = peers.names(role)
            guard !names.isEmpty, names.allSatisfy(peers.provenDown.contains) else { continue }
            return BookstoreError(
                .unavailable,
                "every \(role.rawValue) replica is down (\(names.joined(separator: ", ")): connection refused), "
                    + "so no buy can be made; retry later"
            )
        }
        return nil
    }

    /// Whether another replica (or a later try) may give a better answer than this failure.
    private static func isRetryable(_ failure: CallFailure, buying: Bool) -> Bool {
        switch failure {
        case .refused, .unreachable, .lost: true
        case .error(let error):
            error.code == .notReady || error.code == .unavailable || (buying && error.code == .inProgress)
        }
    }

    mutating func operationReplied(_ op: UInt64, _ replica: String, _ result: CallResult) {
        guard var operation = operations[op] else { return }
        if case .admin = operation.kind { return adminReplied(op, replica, result) }
        let buying: Bool
        if case .buy = operation.kind { buying = true } else { buying = false }
        switch result {
        case .answered(let response, let connection):
            operations.removeValue(forKey: op)
            switch operation.kind {
            case .read(let ticket?):
                // Cache only what came on a connection with a live subscription: otherwise an invalidation
                // for it may never arrive.
                if let connection, subscribed[replica] == connection {
                    switch response {
                    case .book(let book, let witness): cache.fill(ticket, .book(book, witness))
                    case .search(let search): cache.fill(ticket, .search(search))
                    default: break
                    }
                }
            case .buy(let buy, _):
                cache.invalidate(.lookup(item: buy.item))
            default:
                break
            }
            effects.append(.answer(operation.inbound, .success(response)))
        case .failed(let failure) where Self.isRetryable(failure, buying: buying):
            operation.failures.append("\(replica) \(failure.brief)")
            // Keep an order replica's own answer ("decided, not yet confirmed"; "in progress"): it says more.
            if buying, case .error(let error) = failure { operation.lastError = error }
            operations[op] = operation
            tryNext(op)
        case .failed(let failure):
            operations.removeValue(forKey: op)
            if case .buy(let buy, _) = operation.kind { cache.invalidate(.lookup(item: buy.item)) }
            let error: BookstoreError
            if case .error(let answered) = failure {
                error = answered
            } else {
                error = BookstoreError(.unavailable, "\(failure)")
            }
            fail(operation.inbound, error)
        }
    }

    // MARK: Admin writes

    /// Applies an admin write at every catalog member of the current membership (each applies it once, by
    /// op id) and confirms it only when all of them have it: a restock confirmed at one replica only would
    /// make the other refuse buys the stock allows. A member that is not answering refuses the write at
    /// once (a retry with the same op id is safe); a replica left out catches up when it is re-admitted.
    private mutating func admin(_ operation: Operation) {
        let members = membership?.catalogs ?? peers.up(.catalog, now: now)
        let replicas = members.filter { !peers.provenDown.contains($0) }
        guard !replicas.isEmpty else {
            return fail(
                operation.inbound,
                BookstoreError(.unavailable, "no catalog replica is up to apply the change; retry later")
            )
        }
        let silent = replicas.filter { peers.detector.isSuspected($0, now: now) }
        guard silent.isEmpty else {
            return fail(
                operation.inbound,
                BookstoreError(
                    .unavailable,
                    "catalog replica \(silent.joined(separator: ", ")) is not answering; the change must reach "
                        + "every member, so none is made; retry with the same op id later"
                )
            )
        }
        var operation = operation
        operation.pending = Set(replicas)
        if let epoch = membership?.epoch { operation.request = operation.request.atEpoch(epoch) }
        let op = nextOperation
        nextOperation += 1
        operations[op] = operation
        for replica in replicas {
            effects.append(
                .call(
                    calls.open(.op(op, replica: replica)),
                    peer: replica,
                    operation.request,
                    timeout: timing.frontendCallTimeout
                )
            )
        }
    }

    private mutating func adminReplied(_ op: UInt64, _ replica: String, _ result: CallResult) {
        guard var operation = operations[op], case .admin(let item) = operation.kind else { return }
        operation.pending.remove(replica)
        operation.results[replica] = result
        guard operation.pending.isEmpty else {
            operations[op] = operation
            return
        }
        operations.removeValue(forKey: op)
        let ordered = operation.results.sorted { $0.key < $1.key }
        let applied = ordered.compactMap { replica, result in result.response.map { (replica, $0) } }
        if !applied.isEmpty { cache.invalidate(.lookup(item: item)) }
        if applied.count == ordered.count, let (_, response) = applied.first {
            return effects.append(.answer(operation.inbound, .success(response)))
        }
        for (_, result) in ordered {
            // A definite refusal (unknown item, a value out of range) is the answer.
            if case .failed(.error(let answered)) = result,
                ![.unavailable, .notReady, .staleEpoch].contains(answered.code)
            {
                return fail(operation.inbound, answered)
            }
        }
        let missing = ordered.compactMap { replica, result -> String? in
            if case .failed(let failure) = result { return "\(replica) (\(failure))" }
            return nil
        }
        let done = applied.map(\.0)
        fail(
            operation.inbound,
            BookstoreError(
                .unavailable,
                "the change is applied at \(done.isEmpty ? "no replica" : done.joined(separator: ", ")) but not confirmed "
                    + "by \(missing.joined(separator: "; ")); retry with the same op id"
            )
        )
    }
}

extension PeerRequest {
    /// An admin write stamped with the membership epoch it is sent at; other requests unchanged.
    func atEpoch(_ epoch: UInt64) -> PeerRequest {
        switch self {
        case .restock(var request):
            request.epoch = epoch
            return .restock(request)
        case .setCost(var request):
            request.epoch = epoch
            return .setCost(request)
        default:
            return self
        }
    }
}
