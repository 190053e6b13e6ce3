import PygmyBookstore

/// An order replica's part in folding commits (docs/DESIGN.md, Bounded history).
extension OrderReplica {
    /// The log's fold floor, held at or below the stamp of each refusal a buy here has sent but may not
    /// have recorded yet: the catalogs drop a refusal once folded, so every order replica's log must
    /// have it first.
    var foldFloor: Int64 {
        buys.values.compactMap(\.refusalStamp).reduce(log.foldFloor, min)
    }

    /// Runs each heartbeat round. Reports the fold floor (no order below it can still reach a catalog
    /// from this log) and, for the lowest horizon the catalog replicas propose, the digest of this log's
    /// orders below it: the catalogs fold only when it equals theirs, so every order replica knows every
    /// order they fold, and answers a retry of one from its log rather than buying again.
    mutating func reviewFold() {
        // Promise, durably and about once per fold grid, that no later order is stamped before now: lets
        // the catalogs fold while no buys come in. (The promise survives a restart, and a clock that
        // went back.)
        if !recovering, let retention = timing.foldRetention, retention > .zero,
            time.wallMicros - log.promisedFloor >= timing.foldGrid.microseconds
        {
            persist([.promiseFloor(time.wallMicros)])
        }
        let catalogs = peers.names(.catalog).compactMap { peers.statuses[$0]?.fold }
        if let folded = catalogs.compactMap(\.folded).max() {
            log.advanceDigestMark(to: folded)
            persist([])  // the counters, if the mark moved
        }
        log.evict(keeping: Set(buys.keys))
        // Only above the digest mark: the highest horizon folded, as reported now or seen before (after a
        // restart the peers' reports may lag what this log has seen).
        let proposal = catalogs.compactMap(\.proposal).filter { $0 > log.digestMark }.min()
        foldReport = FoldReport(
            proposal: proposal,
            digest: proposal.map { log.commitDigest(below: $0) },
            floor: foldFloor,
            refusalDigest: proposal.map { log.refusalDigest(below: $0) }
        )
    }
}
