import PygmyBookstore

/// Folding commits into per-item counts (bounded history; docs/DESIGN.md).
extension CatalogReplica {
    /// No restock is stamped before this: the highest horizon this replica or any catalog peer last
    /// proposed or folded. Every catalog reported a horizon before any folds it, and proposals only fall
    /// until folded, so a restock stamped now never lands below a horizon that is, or is being, folded.
    var restockFloor: Int64 {
        let reports = peers.names(.catalog).compactMap { peers.statuses[$0]?.fold } + [foldReport].compactMap { $0 }
        return reports.flatMap { [$0.proposal, $0.folded].compactMap { $0 } }.max() ?? 0
    }

    /// Runs each heartbeat round: adopts a horizon a catalog peer already folded, proposes the next one,
    /// and folds it once every catalog replica and every order replica reports the same horizon and the
    /// same digest of the commits (orders) below it, and every order replica's fold floor is at or past it:
    /// no commit below it can arrive again but as a duplicate, and every order replica can answer a retry
    /// of a folded buy from its log. A replica that is down or silent stops every fold until it answers.
    mutating func reviewFold() {
        state.forgetRecalled()
        guard let retention = timing.foldRetention, phase == .ready else {
            foldReport = FoldReport(folded: state.folded.before)
            return
        }
        let catalogs = peers.names(.catalog)
        if let further = catalogs.compactMap({ peers.statuses[$0]?.fold?.folded }).max(), further > state.folded.before
        {
            log(.debug, "folding commits before \(further), as a peer did")
            write([state.foldDecision(before: further)])
        }
        let folded = state.folded.before
        let grid = max(1, timing.foldGrid.microseconds)
        let limit = time.wallMicros - retention.microseconds
        var horizon = limit - ((limit % grid) + grid) % grid
        // The lowest proposal wins, ours included, so replicas whose clocks differ still meet on one
        // horizon: a proposal only falls until it is folded. (Taking the peers' alone, two replicas that
        // proposed different horizons swapped them every round and never met: seed 3580.)
        let proposals =
            catalogs.compactMap { peers.statuses[$0]?.fold?.proposal } + [foldReport?.proposal].compactMap { $0 }
        for proposal in proposals where proposal > folded {
            horizon = min(horizon, proposal)
        }
        guard horizon > folded else {
            foldReport = FoldReport(folded: folded)
            return
        }
        let digest = state.commitDigest(below: horizon)
        let restocks = state.restockDigest(below: horizon)
        foldReport = FoldReport(folded: folded, proposal: horizon, digest: digest, restockDigest: restocks)
        let upCatalogs = Set(peers.up(.catalog, now: now))
        let upOrders = Set(peers.up(.order, now: now))
        let catalogsAgree = catalogs.allSatisfy { peer in
            guard upCatalogs.contains(peer), let fold = peers.statuses[peer]?.fold else { return false }
            return fold.proposal == horizon && fold.digest == digest && fold.restockDigest == restocks
        }
        let orderFolds = peers.names(.order).map { upOrders.contains($0) ? peers.statuses[$0]?.fold : nil }
        let ordersAgree = orderFolds.allSatisfy { fold in
            guard let fold, let floor = fold.floor else { return false }
            return floor >= horizon && fold.proposal == horizon && fold.digest == digest
                && fold.refusalDigest == orderFolds.first??.refusalDigest
        }
        guard catalogsAgree && ordersAgree else { return }
        write([.fold(before: horizon, digest: digest, restocks: restocks)])
        foldReport = FoldReport(folded: horizon)
    }
}
