import PygmyBookstore

/// Stale holds and anti-entropy.
extension CatalogReplica {
    /// Asks about holds older than the hold timeout: their coordinator first; when it does not answer,
    /// the other live order replicas, whether any has the buy committed. A hold is released only on the
    /// coordinator's word that no commit exists.
    mutating func resolveStaleHolds() {
        let timeout = timing.holdTimeout.microseconds
        for hold in state.staleHolds(nowMicros: time.wallMicros, timeoutMicros: timeout)
        where resolving[hold.requestId] == nil {
            let request = PeerRequest.resolve(ResolveRequest(requestId: hold.requestId))
            if peers.names(.order).contains(hold.coordinator) {
                resolving[hold.requestId] = 1
                call(
                    hold.coordinator,
                    request,
                    .resolve(requestId: hold.requestId, atCoordinator: true, holdCreated: hold.createdMicros),
                    timeout: timing.resolveTimeout
                )
            } else {
                askOthers(about: hold)
            }
        }
    }

    private mutating func askOthers(about hold: Hold) {
        let requestId = hold.requestId
        let others = peers.up(.order, now: now).filter { $0 != hold.coordinator }
        guard !others.isEmpty else {
            resolving.removeValue(forKey: requestId)
            return
        }
        resolving[requestId] = others.count
        for order in others {
            call(
                order,
                .resolve(ResolveRequest(requestId: requestId)),
                .resolve(requestId: requestId, atCoordinator: false, holdCreated: hold.createdMicros),
                timeout: timing.resolveTimeout
            )
        }
    }

    mutating func resolveReplied(_ requestId: String, atCoordinator: Bool, holdCreated: Int64, _ result: CallResult) {
        guard let hold = state.holds[requestId] else {
            resolving.removeValue(forKey: requestId)
            return
        }
        switch result.response {
        case .resolution(.committed(let buy))?:
            log(.debug, "stale hold \(requestId): committed")
            write((try? state.decideCommit(buy)) ?? [])
            resolving.removeValue(forKey: requestId)
            return
        case .resolution(.aborted)? where atCoordinator:
            log(.debug, "stale hold \(requestId): aborted by \(hold.coordinator)")
            write(state.decideAbort(requestId: requestId, coordinator: hold.coordinator, createdMicros: holdCreated))
            resolving.removeValue(forKey: requestId)
            return
        case .resolution? where atCoordinator:
            resolving.removeValue(forKey: requestId)
            return
        default:
            break
        }
        if atCoordinator { return askOthers(about: hold) }
        let left = (resolving[requestId] ?? 1) - 1
        if left <= 0 { resolving.removeValue(forKey: requestId) } else { resolving[requestId] = left }
    }

    /// Pulls committed buys, restocks and prices from ready peers whose last heartbeat showed a different
    /// digest and which `AntiEntropyGate` finds stably different or not pulled for a while.
    mutating func antiEntropy() {
        guard phase == .ready else { return }
        for peer in peers.up(.catalog, now: now) where !pulling.contains(peer) {
            guard let status = peers.statuses[peer], status.isReady,
                gate.shouldPull(from: peer, peerDigest: status.digest, ownDigest: state.digest.value, now: now)
            else { continue }
            pulling.insert(peer)
            let request = SnapshotRequest(limit: timing.syncPageOrders)
            call(peer, .snapshot(request), .pull(peer, request), timeout: timing.resyncTimeout)
        }
    }
}
