/// Commits folded into per-item counts: what keeps a catalog replica's memory, snapshots and restart
/// bounded however many orders the store has taken (docs/DESIGN.md, Bounded history).
///
/// Every replica folds the same commits: a horizon is folded only once every catalog replica reported
/// the same digest of the commits below it and every order replica has delivered every order below it
/// (`FoldAgreement`), so no commit below a horizon can arrive later except as a duplicate, which
/// `covers` recognises.
public struct FoldState: Codable, Sendable, Hashable {
    /// Every commit decided before this time (microseconds since 1970) is folded; 0: none.
    public var before: Int64
    /// Copies sold by the folded commits, per item.
    public var sold: [ItemID: Int]
    /// The XOR of the folded commits' digest hashes, so that the digest of every commit below a horizon,
    /// folded or not, can still be told.
    public var digest: UInt64

    public init(before: Int64 = 0, sold: [ItemID: Int] = [:], digest: UInt64 = 0) {
        self.before = before
        self.sold = sold
        self.digest = digest
    }

    /// The hash a commit of `requestId` adds to `digest` (and to a replica's `ReplicaDigest`).
    public static func commitHash(_ requestId: String) -> UInt64 { ReplicaDigest.hash("c", requestId) }

    /// Whether `buy` is already counted in the fold (arriving again, it is a duplicate).
    public func covers(_ buy: CommittedBuy) -> Bool {
        guard let time = buy.timeMicros else { return false }
        return time < before
    }
}

extension CatalogState {
    /// The digest of every commit decided before `horizon` (at or after `folded.before`), folded or not.
    public func commitDigest(below horizon: Int64) -> UInt64 {
        var value = folded.digest
        for buy in committed.values where (buy.timeMicros ?? .max) < horizon {
            value ^= ReplicaDigest.hash("c", buy.requestId)
        }
        return value
    }

    /// The mutation that folds every commit decided before `before`.
    public func foldDecision(before: Int64) -> CatalogMutation {
        .fold(before: before, digest: commitDigest(below: before))
    }

    /// How many commits are not folded yet (for status and the history benchmark).
    public var unfoldedCommits: Int { committed.count }

    mutating func applyFold(before: Int64) {
        guard before > folded.before else { return }
        for (requestId, buy) in committed where (buy.timeMicros ?? .max) < before {
            committed.removeValue(forKey: requestId)
            folded.sold[buy.item, default: 0] += buy.quantity
            folded.digest ^= ReplicaDigest.hash("c", requestId)
        }
        folded.before = before
    }

    /// Restores the fold a store kept; call it before replaying the store's (unfolded) commits.
    public mutating func restore(_ fold: FoldState) {
        for (item, sold) in fold.sold { onHand[item, default: 0] -= sold }
        folded = fold
        digest.combine(fold.digest)
    }
}

/// A replica's part in agreeing fold horizons, in its heartbeat status (PROTOCOL.md §6.7).
public struct FoldReport: Codable, Sendable, Hashable {
    /// A catalog replica's `FoldState.before`.
    public var folded: Int64?
    /// The horizon a catalog replica proposes, and the digest of every commit it has below it.
    public var proposal: Int64?
    public var digest: UInt64?
    /// An order replica's `OrderLogState.foldFloor`.
    public var floor: Int64?
    /// An order replica's digest of the refusals it recorded before `proposal`: the catalogs fold only
    /// when every order replica's is equal, so each has every refusal below a folded horizon.
    public var refusalDigest: UInt64?

    public init(
        folded: Int64? = nil,
        proposal: Int64? = nil,
        digest: UInt64? = nil,
        floor: Int64? = nil,
        refusalDigest: UInt64? = nil
    ) {
        self.folded = folded
        self.proposal = proposal
        self.digest = digest
        self.floor = floor
        self.refusalDigest = refusalDigest
    }
}
