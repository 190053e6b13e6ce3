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
    /// Copies added by the folded restocks (those stamped before `before`), per item, and the XOR of
    /// their `Restock.digestHash`es. Absent on the wire from older peers: none.
    public var restocked: [ItemID: Int]
    public var restockDigest: UInt64

    public init(
        before: Int64 = 0,
        sold: [ItemID: Int] = [:],
        digest: UInt64 = 0,
        restocked: [ItemID: Int] = [:],
        restockDigest: UInt64 = 0
    ) {
        self.before = before
        self.sold = sold
        self.digest = digest
        self.restocked = restocked
        self.restockDigest = restockDigest
    }

    enum CodingKeys: String, CodingKey {
        case before, sold, digest, restocked, restockDigest
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        before = try container.decode(Int64.self, forKey: .before)
        sold = try container.decode([ItemID: Int].self, forKey: .sold)
        digest = try container.decode(UInt64.self, forKey: .digest)
        restocked = try container.decodeIfPresent([ItemID: Int].self, forKey: .restocked) ?? [:]
        restockDigest = try container.decodeIfPresent(UInt64.self, forKey: .restockDigest) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(before, forKey: .before)
        try container.encode(sold, forKey: .sold)
        try container.encode(digest, forKey: .digest)
        if !restocked.isEmpty { try container.encode(restocked, forKey: .restocked) }
        if restockDigest != 0 { try container.encode(restockDigest, forKey: .restockDigest) }
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

    /// The digest of every restock stamped before `horizon` (at or after `folded.before`), folded or not:
    /// catalog replicas fold a horizon only when theirs agree.
    public func restockDigest(below horizon: Int64) -> UInt64 {
        var value = folded.restockDigest
        for restock in restocks.values where restock.time < horizon { value ^= restock.digestHash }
        return value
    }

    /// The mutation that folds every commit decided and every restock stamped before `before`.
    public func foldDecision(before: Int64) -> CatalogMutation {
        .fold(before: before, digest: commitDigest(below: before), restocks: restockDigest(below: before))
    }

    /// The time to stamp a restock applied now: the clock, but never before a horizon this replica has
    /// folded or proposed (`proposal`), so no restock lands below a horizon being agreed or folded.
    public func restockTime(clock: Int64, proposal: Int64?) -> Int64 {
        max(clock, folded.before, proposal ?? 0)
    }

    /// Op ids of folded restocks the shell found in the store: a retry of one applies nothing.
    public mutating func recall(_ restocks: [Restock]) {
        recalledRestocks.formUnion(restocks.map(\.opId))
    }

    /// Forgets the recalled op ids (each review of the fold: they served the request they came for).
    public mutating func forgetRecalled() { recalledRestocks.removeAll() }

    /// How many commits are not folded yet (for status and the history benchmark).
    public var unfoldedCommits: Int { committed.count }

    mutating func applyFold(before: Int64) {
        guard before > folded.before else { return }
        for (requestId, buy) in committed where (buy.timeMicros ?? .max) < before {
            committed.removeValue(forKey: requestId)
            folded.sold[buy.item, default: 0] += buy.quantity
            folded.digest ^= ReplicaDigest.hash("c", requestId)
        }
        for (opId, restock) in restocks where restock.time < before {
            restocks.removeValue(forKey: opId)
            folded.restocked[restock.item, default: 0] += restock.count
            folded.restockDigest ^= restock.digestHash
        }
        // Refusals: every order replica's log has each one stamped before the horizon (its coordinator
        // held its fold floor at or below the stamp until it recorded it, and the order replicas' refusal
        // digests agreed), and a coordinator checks its log before it decides.
        for (requestId, stamp) in refusals where stamp < before {
            refusals.removeValue(forKey: requestId)
            digest.toggle("x", requestId)
        }
        folded.before = before
    }

    /// Restores the fold a store kept; call it before replaying the store's (unfolded) commits.
    public mutating func restore(_ fold: FoldState) {
        for (item, sold) in fold.sold { onHand[item, default: 0] -= sold }
        for (item, count) in fold.restocked { onHand[item, default: 0] += count }
        folded = fold
        digest.combine(fold.digest)
        digest.combine(fold.restockDigest)
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
    /// A catalog replica's digest of the restocks it stamped before `proposal`: the catalogs fold only
    /// when theirs are equal, so each folds the same restocks.
    public var restockDigest: UInt64?

    public init(
        folded: Int64? = nil,
        proposal: Int64? = nil,
        digest: UInt64? = nil,
        floor: Int64? = nil,
        refusalDigest: UInt64? = nil,
        restockDigest: UInt64? = nil
    ) {
        self.folded = folded
        self.proposal = proposal
        self.digest = digest
        self.floor = floor
        self.refusalDigest = refusalDigest
        self.restockDigest = restockDigest
    }
}
