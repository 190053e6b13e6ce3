import PygmyBookstore

/// A commit of a logged order on its way to every catalog replica (redelivery, recovery, or a retry
/// answered from the log), with the requests waiting for it.
struct Delivery: Sendable {
    var token: UInt64
    var record: OrderRecord
    var pending: Set<String>
    var acked: Set<String> = []
    var refused: Set<String> = []
    var waiters: [OrderReplica.Waiter] = []
}

/// Recovery after a restart, redelivery of undelivered commits, and anti-entropy.
extension OrderReplica {
    // MARK: Delivering logged orders

    /// Sends the commit of a logged order to every catalog replica (joining a delivery already on its
    /// way); marks it delivered once all have acknowledged it.
    mutating func deliver(_ record: OrderRecord, waiters: [Waiter] = []) {
        let rid = record.requestId
        if deliveries[rid] != nil {
            deliveries[rid]!.waiters += waiters
            return
        }
        let token = nextStep
        nextStep += 1
        deliveries[rid] = Delivery(token: token, record: record, pending: Set(catalogs), waiters: waiters)
        let commit = CommittedBuy(record, epoch: membership.epoch)
        for catalog in catalogs {
            call(
                catalog,
                .commit(commit),
                .delivery(requestId: rid, token: token, replica: catalog),
                timeout: timing.callTimeout
            )
        }
        if catalogs.isEmpty { deliveryDone(rid) }
    }

    mutating func deliveryReplied(_ rid: String, token: UInt64, replica: String, _ result: CallResult) {
        guard var delivery = deliveries[rid], delivery.token == token else { return }
        delivery.pending.remove(replica)
        switch result {
        case .answered: delivery.acked.insert(replica)
        case .failed(let failure) where failure.provesDown: delivery.refused.insert(replica)
        case .failed: break
        }
        deliveries[rid] = delivery
        if delivery.pending.isEmpty { deliveryDone(rid) }
    }

    private mutating func deliveryDone(_ rid: String) {
        guard let delivery = deliveries.removeValue(forKey: rid) else { return }
        // The members must have it; a replica outside the membership merges the order logs when it is
        // re-admitted.
        let members = membership.catalogs
        if delivery.acked.isSuperset(of: members) { persist([.delivered(requestId: rid)]) }
        let missing = members.filter { !delivery.acked.contains($0) && !delivery.refused.contains($0) }
        for waiter in delivery.waiters {
            if missing.isEmpty {
                answerDecided(.ordered(delivery.record), waiter)
            } else {
                fail(
                    waiter.id,
                    BookstoreError(
                        .unavailable,
                        "order \(delivery.record.order) is decided, but catalog replicas "
                            + "\(missing.joined(separator: ", ")) have not confirmed it yet; retry for its outcome"
                    )
                )
            }
        }
        pumpBacklog()
    }

    /// Starts backlog deliveries up to the limit.
    private mutating func pumpBacklog() {
        while deliveries.count < config.maxDeliveries, let rid = deliveryBacklog.popLast() {
            if let record = log.orders[rid], log.undelivered.contains(rid) { deliver(record) }
        }
    }

    /// The orders `RedeliverySchedule` finds due: undelivered for long enough that their coordinator,
    /// if alive, would have delivered them itself.
    mutating func redeliverDue() {
        for rid in redelivery.due(log.undelivered, now: now) where deliveries[rid] == nil {
            if deliveries.count >= config.maxDeliveries { break }
            if let record = log.orders[rid] { deliver(record) }
        }
    }

    // MARK: Recovery

    /// After a restart: merge the peers' logs, release the holds of buys undecided at the crash, and
    /// deliver every order not yet acknowledged by every catalog replica.
    mutating func recover() {
        let orders = peers.up(.order, now: now)
        recoveryPending = Set(orders)
        let request = syncRequest
        for order in orders {
            call(order, .listOrders(request), .recoverLog(order, request), timeout: timing.resyncTimeout)
        }
        if orders.isEmpty { finishRecovery() }
    }

    /// A peer's log for recovery. A peer that answered nothing (not answering, or the answer failed) is
    /// asked again, for up to `recoveryAttempts` rounds, before the replica serves without its log (found
    /// by the history benchmark: a failed pull counted as done). A peer that refused the connection is
    /// down: it has no log to give now, and delivers its own orders when it is back.
    mutating func recoveryLogReplied(_ peer: String, _ request: OrdersRequest, _ result: CallResult) {
        guard recovering, recoveryPending.contains(peer) else { return }
        if case .answered(.log(let snapshot), _) = result, let next = snapshot.next {
            persist(log.mutationsToMerge(orders: snapshot.orders, rejections: snapshot.rejections))
            let following = request.following(next)
            log(.debug, "recovery: asking \(peer) for the next page of its log")
            return call(peer, .listOrders(following), .recoverLog(peer, following), timeout: timing.resyncTimeout)
        }
        recoveryPending.remove(peer)
        switch result {
        case .answered(.log(let snapshot), _):
            persist(log.mutationsToMerge(orders: snapshot.orders, rejections: snapshot.rejections))
        case .failed(let failure) where !failure.provesDown:
            recoveryMissed.insert(peer)
        default:
            break
        }
        guard recoveryPending.isEmpty else { return }
        recoveryRounds += 1
        if !recoveryMissed.isEmpty && recoveryRounds < Self.recoveryAttempts {
            log(.info, "recovery: no log from \(recoveryMissed.sorted().joined(separator: ", ")) yet; asking again")
            recoveryMissed = []
            effects.append(.schedule(.recover, after: timing.heartbeatInterval * 5))
            return
        }
        if !recoveryMissed.isEmpty {
            log(
                .warning,
                "recovery: serving without the log of \(recoveryMissed.sorted().joined(separator: ", ")) after "
                    + "\(recoveryRounds) rounds; anti-entropy merges it when it answers"
            )
        }
        finishRecovery()
    }

    /// Rounds of asking the peers for their logs before serving without a silent peer's.
    static var recoveryAttempts: Int { 3 }

    private mutating func finishRecovery() {
        let live = peers.up(.catalog, now: now)
        for pending in log.pending.values.sorted(by: { $0.requestId < $1.requestId })
        where buys[pending.requestId] == nil {
            persist([.forget(requestId: pending.requestId)])
            let abort = AbortRequest(
                requestId: pending.requestId,
                coordinator: config.name,
                attempt: nextAttemptStamp()
            )
            if !live.isEmpty { releasing[pending.requestId] = live.count }
            for catalog in live {
                call(catalog, .abort(abort), .release(pending.requestId), timeout: timing.callTimeout)
            }
        }
        recovering = false
        log(.info, "order replica ready (recovered; \(log.undelivered.count) orders to deliver)")
        deliveryBacklog = log.undelivered.sorted().reversed()
        pumpBacklog()
    }

    // MARK: Anti-entropy

    /// Pulls the logs of peers whose last heartbeat showed a different digest, when `AntiEntropyGate`
    /// finds the difference stable or the last pull old.
    mutating func antiEntropy() {
        for peer in peers.up(.order, now: now) where !pulling.contains(peer) {
            guard
                gate.shouldPull(
                    from: peer,
                    peerDigest: peers.statuses[peer]?.digest,
                    ownDigest: log.digest.value,
                    now: now
                )
            else { continue }
            pulling.insert(peer)
            call(peer, .listOrders(syncRequest), .pull(peer, syncRequest), timeout: timing.resyncTimeout)
        }
    }

    /// What recovery and anti-entropy ask a peer for: the orders at or after the highest horizon a catalog
    /// replica reports folded. Every order replica had every order below it when it was folded (the fold
    /// waited for equal digests), so only what follows can differ.
    var syncRequest: OrdersRequest {
        .sync(
            since: peers.names(.catalog).compactMap { peers.statuses[$0]?.fold?.folded }.max() ?? 0,
            limit: timing.syncPageOrders
        )
    }
}
