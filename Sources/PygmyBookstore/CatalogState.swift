/// A copy reservation made by a buy's first phase. Durable: it survives a crash of the replica.
public struct Hold: Codable, Sendable, Hashable {
    public var requestId: String
    public var item: ItemID
    public var quantity: Int
    /// The order replica coordinating the buy: the authority on its outcome.
    public var coordinator: String
    /// When the hold was made, in the replica's clock (microseconds since 1970).
    public var createdMicros: Int64
    /// The coordinator's attempt that made it (`HoldRequest.attempt`).
    public var attempt: Int64?

    public init(
        requestId: String,
        item: ItemID,
        quantity: Int,
        coordinator: String,
        createdMicros: Int64,
        attempt: Int64? = nil
    ) {
        self.requestId = requestId
        self.item = item
        self.quantity = quantity
        self.coordinator = coordinator
        self.createdMicros = createdMicros
        self.attempt = attempt
    }
}

/// A buy that was committed: its copies have left the stock for good.
public struct CommittedBuy: Codable, Sendable, Hashable {
    public var requestId: String
    public var item: ItemID
    public var quantity: Int
    /// On `catalog.commit`: the membership epoch the coordinator knows. A replica at a newer epoch applies
    /// the commit and answers `staleEpoch`, so the coordinator does not acknowledge the buy before it has
    /// committed at the members of the newer epoch (a re-admitted one may be serving reads). Not stored.
    public var epoch: UInt64?
    /// When the order was decided (`OrderRecord.timeMicros`), the same at every replica: commits older
    /// than the cluster's agreed fold horizon are folded into per-item counts (`FoldState`). Absent from
    /// older senders: such a commit is never folded.
    public var timeMicros: Int64?

    public init(requestId: String, item: ItemID, quantity: Int, epoch: UInt64? = nil, timeMicros: Int64? = nil) {
        self.requestId = requestId
        self.item = item
        self.quantity = quantity
        self.epoch = epoch
        self.timeMicros = timeMicros
    }

    /// The commit of `record`.
    public init(_ record: OrderRecord, epoch: UInt64? = nil) {
        self.init(
            requestId: record.requestId,
            item: record.item,
            quantity: record.quantity,
            epoch: epoch,
            timeMicros: record.timeMicros
        )
    }
}

/// Copies added to an item, identified so that applying it twice (retry, sync) counts once.
public struct Restock: Codable, Sendable, Hashable {
    public var opId: String
    public var item: ItemID
    public var count: Int
    /// When a catalog replica applied it (never before a fold horizon it proposed or folded), so that
    /// restocks fold into per-item counts like commits (PROTOCOL.md §6.7). Replicas that stamped one
    /// restock differently keep the earliest. Absent (older stores): as if 0.
    public var timeMicros: Int64?

    public init(opId: String, item: ItemID, count: Int, timeMicros: Int64? = nil) {
        self.opId = opId
        self.item = item
        self.count = count
        self.timeMicros = timeMicros
    }

    /// The time folding goes by.
    public var time: Int64 { timeMicros ?? 0 }

    /// Whether a replica holding `existing` (the same op id) keeps this one instead: the earlier.
    public func supersedes(_ existing: Restock) -> Bool {
        (time, item, count) < (existing.time, existing.item, existing.count)
    }

    /// What a restock adds to a replica's digest: its op id and time, so that replicas that stamped it
    /// differently see the difference and keep the earlier.
    public var digestHash: UInt64 { ReplicaDigest.hash("r", "\(opId)\u{1F}\(time)") }
}

/// A price, versioned so that replicas agree on the last write: higher `version` wins, then higher `opId`.
public struct PriceSetting: Codable, Sendable, Hashable {
    public var item: ItemID
    public var cost: Int
    public var version: Int64
    public var opId: String

    public init(item: ItemID, cost: Int, version: Int64, opId: String) {
        self.item = item
        self.cost = cost
        self.version = version
        self.opId = opId
    }

    var digestKey: String { "\(item):\(version):\(opId):\(cost)" }

    func supersedes(_ other: PriceSetting) -> Bool {
        (version, opId) > (other.version, other.opId)
    }
}

/// A durable change to a catalog replica. The catalog decides, persists the mutations, then applies
/// them; a restarted replica replays what it persisted.
public enum CatalogMutation: Codable, Sendable, Hashable {
    case addBook(CatalogSeed)
    case hold(Hold)
    case releaseHold(requestId: String)
    case commit(CommittedBuy)
    case restock(Restock)
    case setPrice(PriceSetting)
    /// The buy of this request id was refused for good: release its hold and refuse any later hold for
    /// it, so a late or retried attempt at another order replica cannot turn the refusal into an order.
    /// `timeMicros`: the coordinator's stamp (`AbortRequest.refusedAt`); a fold before a later horizon
    /// drops it (nil: never).
    case reject(requestId: String, timeMicros: Int64? = nil)
    /// Folds every commit decided and every restock stamped before `before` into the per-item counts
    /// (`FoldState`); `digest` and `restocks` are the folded commits' and restocks' digests afterwards
    /// (for the store).
    case fold(before: Int64, digest: UInt64, restocks: UInt64 = 0)
}

/// Everything a replica knows, for a peer to merge.
public struct CatalogSnapshot: Codable, Sendable, Hashable {
    public var books: [CatalogSeed]
    public var prices: [PriceSetting]
    public var holds: [Hold]
    public var committed: [CommittedBuy]
    public var restocks: [Restock]
    /// Request ids refused for good (optional on the wire: absent from older peers).
    public var rejected: [String]?
    /// The stamps of the refusals in `rejected` that have one (`AbortRequest.refusedAt`).
    public var refusedAt: [String: Int64]?
    /// The commits folded into counts; `committed` then holds only those decided at or after
    /// `folded.before`.
    public var folded: FoldState?
    /// A page that is not the last (`SnapshotRequest.limit`): ask again `from` here for more commits.
    public var next: SyncCursor?

    public init(
        books: [CatalogSeed],
        prices: [PriceSetting],
        holds: [Hold],
        committed: [CommittedBuy],
        restocks: [Restock],
        rejected: [String]? = nil,
        refusedAt: [String: Int64]? = nil,
        folded: FoldState? = nil,
        next: SyncCursor? = nil
    ) {
        self.books = books
        self.prices = prices
        self.holds = holds
        self.committed = committed
        self.restocks = restocks
        self.rejected = rejected
        self.refusedAt = refusedAt
        self.folded = folded
        self.next = next
    }
}

/// `catalog.snapshot` in pages (PROTOCOL.md §6.7): the first page (no `from`) has the whole state but
/// at most `limit` commits, oldest `(timeMicros, requestId)` first; each following page (`from`: the
/// previous page's `next`) has the next commits and the fold only. No `limit`: everything at once.
public struct SnapshotRequest: Codable, Sendable, Hashable {
    public var limit: Int?
    public var from: SyncCursor?

    public init(limit: Int? = nil, from: SyncCursor? = nil) {
        self.limit = limit
        self.from = from
    }
}

extension CommittedBuy {
    /// Where a snapshot page of commits stands (commits without a time sort first).
    public var cursor: SyncCursor { SyncCursor(timeMicros: timeMicros ?? 0, requestId: requestId) }
}

/// The answer to a hold.
public enum HoldOutcome: Codable, Sendable, Hashable {
    /// The copies are reserved. `checked` is false when a replica that is still joining recorded the
    /// hold without being able to vouch for the stock; a buy needs at least one checked hold.
    case held(unitCost: Int, checked: Bool)
    case outOfStock(available: Int)
    case unknownItem
    /// The request id was already committed here.
    case alreadyCommitted
    /// Another coordinator holds copies under this request id.
    case heldByOther(coordinator: String)
    /// The replica cannot take holds (it is joining and no ready peer vouches for it).
    case notReady
}

/// Bounds on the numbers a catalog accepts. They keep every sum and product of stock, quantities and
/// prices far from overflow, so no request (hostile or mistyped) can make a replica trap.
public enum CatalogLimits {
    /// Copies in one buy or hold.
    public static let maxQuantity = 1_000_000
    /// Copies added by one restock.
    public static let maxRestock = 1_000_000_000
    /// Price of one copy.
    public static let maxCost = 1_000_000_000
}

/// A catalog replica's state and decisions, with no I/O: stock is derived as seeded stock plus restocks
/// minus committed buys, which makes merging two replicas a set union (idempotent and order-free).
public struct CatalogState: Sendable {
    public private(set) var seeds: [ItemID: CatalogSeed] = [:]
    public private(set) var prices: [ItemID: PriceSetting] = [:]
    public private(set) var holds: [String: Hold] = [:]
    public internal(set) var committed: [String: CommittedBuy] = [:]
    /// The restocks not folded yet (`folded.restocked` counts the others).
    public internal(set) var restocks: [String: Restock] = [:]
    /// Op ids of folded restocks its shell found in the store for the request at hand (`recall`): a retry
    /// of one applies nothing. Not durable; emptied at each fold review.
    public internal(set) var recalledRestocks: Set<String> = []
    /// Request ids whose buys were refused for good, with their stamps (`Int64.max`: none, never folded).
    /// A fold drops those stamped before its horizon: every order replica has each of them in its log by
    /// then, and a coordinator checks its log before it decides (docs/DESIGN.md, Bounded history). Of
    /// two stamps of one request id the later stays: a coordinator that counts this replica's record of
    /// its refusal has stamped it no later, so the record outlives that coordinator's fold floor.
    public internal(set) var refusals: [String: Int64] = [:]

    /// Request ids whose buys were refused for good (and not folded).
    public var rejected: Set<String> { Set(refusals.keys) }
    /// Commits folded into per-item counts (bounded history: docs/DESIGN.md).
    public internal(set) var folded = FoldState()
    /// Fingerprint of what anti-entropy merges (commits, restocks, refusals, prices).
    public internal(set) var digest = ReplicaDigest()
    /// Cached per-item totals, kept in step by `apply`.
    var onHand: [ItemID: Int] = [:]
    private var held: [ItemID: Int] = [:]

    public init() {}

    // MARK: Reads

    /// Copies on hand: seeded + restocked − committed.
    public func stockOnHand(_ item: ItemID) -> Int { onHand[item] ?? 0 }
    /// Copies reserved by buys in progress.
    public func heldCopies(_ item: ItemID) -> Int { held[item] ?? 0 }
    /// Copies a new buy could take.
    public func available(_ item: ItemID) -> Int { stockOnHand(item) - heldCopies(item) }

    public func lookup(_ item: ItemID) throws(BookstoreError) -> Book {
        guard let seed = seeds[item] else { throw BookstoreError(.unknownItem, "no book with item number \(item)") }
        return Book(
            item: item,
            title: seed.title,
            topic: seed.topic,
            // Committed state only: a hold is tentative until its buy commits, so readers do not see it
            // (and a hold need not invalidate the frontends' caches).
            stock: max(0, stockOnHand(item)),
            cost: prices[item]?.cost ?? seed.cost
        )
    }

    public func search(topic: String) throws(BookstoreError) -> [BookSummary] {
        let hits = seeds.values.filter { $0.topic.caseInsensitiveEquals(topic) }
            .sorted { $0.item < $1.item }
            .map { BookSummary(item: $0.item, title: $0.title) }
        guard !hits.isEmpty else { throw BookstoreError(.unknownTopic, "no books on topic \"\(topic)\"") }
        return hits
    }

    public var topics: [String] { Array(Set(seeds.values.map(\.topic))).sorted() }

    public func snapshot() -> CatalogSnapshot { snapshot(SnapshotRequest()) }

    /// One page of the snapshot (`SnapshotRequest`).
    public func snapshot(_ request: SnapshotRequest) -> CatalogSnapshot {
        var commits = Array(committed.values)
        if let from = request.from { commits = commits.filter { from < $0.cursor } }
        var next: SyncCursor?
        if let limit = request.limit, commits.count > max(1, limit) {
            commits.sort { $0.cursor < $1.cursor }
            commits = Array(commits.prefix(max(1, limit)))
            next = commits.last?.cursor
        } else {
            commits.sort { $0.requestId < $1.requestId }
        }
        let first = request.from == nil
        let stamped = refusals.filter { $0.value != .max }
        return CatalogSnapshot(
            books: first ? seeds.values.sorted { $0.item < $1.item } : [],
            prices: first ? prices.values.sorted { $0.item < $1.item } : [],
            holds: first ? holds.values.sorted { $0.requestId < $1.requestId } : [],
            committed: commits,
            restocks: first ? restocks.values.sorted { $0.opId < $1.opId } : [],
            rejected: first && !refusals.isEmpty ? refusals.keys.sorted() : nil,
            refusedAt: first ? stamped.isEmpty ? nil : stamped : nil,
            folded: folded.before > 0 ? folded : nil,
            next: next
        )
    }

    // MARK: Decisions (pure: they return mutations, they do not apply them)

    /// Decides a hold. `checked` replicas refuse when fewer copies are available; a joining replica
    /// (`checked == false`) records the hold without judging the stock.
    public func decideHold(_ hold: Hold, checked: Bool) throws(BookstoreError) -> (HoldOutcome, [CatalogMutation]) {
        guard (1...CatalogLimits.maxQuantity).contains(hold.quantity) else {
            throw BookstoreError(
                .invalidValue,
                "quantity must be 1...\(CatalogLimits.maxQuantity), not \(hold.quantity)"
            )
        }
        guard let seed = seeds[hold.item] else { return (.unknownItem, []) }
        let cost = prices[hold.item]?.cost ?? seed.cost
        if committed[hold.requestId] != nil { return (.alreadyCommitted, []) }
        if refusals[hold.requestId] != nil { return (.outOfStock(available: max(0, available(hold.item))), []) }
        if let existing = holds[hold.requestId] {
            if existing.coordinator != hold.coordinator {
                return (.heldByOther(coordinator: existing.coordinator), [])
            }
            // A retry of the same hold. It may have been recorded unchecked while this replica was joining,
            // so judge the stock again, as if the earlier hold were not there (found by the simulator:
            // vouching for an unchecked hold oversold).
            let availableWithout = available(hold.item) + existing.quantity
            if checked && availableWithout < hold.quantity {
                return (.outOfStock(available: max(0, availableWithout)), [.releaseHold(requestId: hold.requestId)])
            }
            // The retry makes a new hold instance, created now (and never at the old one's time): a
            // stale-hold release answered for the old instance must not remove the one this attempt relies
            // on, and the retried hold must not look stale at once (found by the simulator: seed 509441).
            var renewed = hold
            renewed.createdMicros = max(hold.createdMicros, existing.createdMicros + 1)
            return (
                .held(unitCost: cost, checked: checked),
                [.releaseHold(requestId: hold.requestId), .hold(renewed)]
            )
        }
        if checked && available(hold.item) < hold.quantity {
            return (.outOfStock(available: max(0, available(hold.item))), [])
        }
        return (.held(unitCost: cost, checked: checked), [.hold(hold)])
    }

    /// A committed buy is applied whether or not this replica held copies for it (it may have been down
    /// during the hold phase). Committing twice changes nothing.
    public func decideCommit(_ buy: CommittedBuy) throws(BookstoreError) -> [CatalogMutation] {
        guard (1...CatalogLimits.maxQuantity).contains(buy.quantity) else {
            throw BookstoreError(
                .invalidValue,
                "quantity must be 1...\(CatalogLimits.maxQuantity), not \(buy.quantity)"
            )
        }
        var stored = buy
        stored.epoch = nil
        // Folded already: it changes nothing, but a hold a late attempt made for it here goes (found by
        // the simulator, seed 3003031: such a hold outlived everything, asked about for ever).
        if folded.covers(buy) { return holds[buy.requestId] != nil ? [.releaseHold(requestId: buy.requestId)] : [] }
        return committed[buy.requestId] == nil ? [.commit(stored)] : []
    }

    /// Records that the buy of `requestId` was refused for good by `coordinator` (its hold there, if any, is
    /// released), stamped `timeMicros`. Throws `inProgress` when the request is committed, or held for
    /// another coordinator: then that attempt decides, and the refusal must not stand. Of two stamps of
    /// one refusal the later stays; one before the folded horizon only releases the hold (the fold
    /// waited until every order replica's log had every refusal stamped before it).
    public func decideReject(
        requestId: String,
        coordinator: String,
        timeMicros: Int64? = nil
    ) throws(BookstoreError) -> [CatalogMutation] {
        if committed[requestId] != nil {
            throw BookstoreError(.inProgress, "request \(requestId) is already committed")
        }
        if let hold = holds[requestId], hold.coordinator != coordinator {
            throw BookstoreError(.inProgress, "request \(requestId) is held for \(hold.coordinator)")
        }
        let stamp = timeMicros ?? .max
        if stamp < folded.before { return holds[requestId] != nil ? [.releaseHold(requestId: requestId)] : [] }
        if let existing = refusals[requestId], existing >= stamp { return [] }
        return [.reject(requestId: requestId, timeMicros: timeMicros)]
    }

    /// Releases the hold of `requestId` if `coordinator` made it and, when `createdMicros` is given, only
    /// if it is still that hold instance: a stale-hold resolution speaks only of the hold it asked about,
    /// not of a retried hold the coordinator made since.
    /// With `attempt`, only a hold of that attempt or an earlier one (found by the simulator, seed 3000531:
    /// a duplicated release of one attempt arrived after the next attempt's hold and removed it; that
    /// attempt's order, its coordinator then down, was bought again through another order replica).
    public func decideAbort(
        requestId: String,
        coordinator: String,
        createdMicros: Int64? = nil,
        attempt: Int64? = nil
    ) -> [CatalogMutation] {
        guard let hold = holds[requestId], hold.coordinator == coordinator else { return [] }
        if let createdMicros, hold.createdMicros != createdMicros { return [] }
        if let attempt, let held = hold.attempt, held > attempt { return [] }
        return [.releaseHold(requestId: requestId)]
    }

    public func decideRestock(_ restock: Restock) throws(BookstoreError) -> [CatalogMutation] {
        guard seeds[restock.item] != nil else {
            throw BookstoreError(.unknownItem, "no book with item number \(restock.item)")
        }
        guard (1...CatalogLimits.maxRestock).contains(restock.count) else {
            throw BookstoreError(
                .invalidValue,
                "restock count must be 1...\(CatalogLimits.maxRestock), not \(restock.count)"
            )
        }
        return restocks[restock.opId] == nil && !recalledRestocks.contains(restock.opId) ? [.restock(restock)] : []
    }

    public func decideSetPrice(_ price: PriceSetting) throws(BookstoreError) -> [CatalogMutation] {
        guard let seed = seeds[price.item] else {
            throw BookstoreError(.unknownItem, "no book with item number \(price.item)")
        }
        guard (0...CatalogLimits.maxCost).contains(price.cost) else {
            throw BookstoreError(.invalidValue, "cost must be 0...\(CatalogLimits.maxCost), not \(price.cost)")
        }
        let current = prices[price.item] ?? PriceSetting(item: price.item, cost: seed.cost, version: 0, opId: "")
        return price.supersedes(current) ? [.setPrice(price)] : []
    }

    /// The mutations that bring this replica up to the union of itself and `snapshot`. Holds are merged
    /// only for buys not yet committed here.
    public func mutationsToMerge(_ snapshot: CatalogSnapshot) -> [CatalogMutation] {
        var out: [CatalogMutation] = []
        let quantities = 1...CatalogLimits.maxQuantity
        // A peer folded further: fold as far first. Every catalog replica had the same commits below that
        // horizon when it was agreed, so this replica's fold gives the same counts.
        var horizon = folded
        if let theirs = snapshot.folded, theirs.before > folded.before {
            let mine = foldDecision(before: theirs.before)
            out.append(mine)
            if case .fold(let before, let digest, _) = mine {
                horizon = FoldState(before: before, sold: [:], digest: digest)
            }
        }
        for seed in snapshot.books where seeds[seed.item] == nil { out.append(.addBook(seed)) }
        for price in snapshot.prices where (0...CatalogLimits.maxCost).contains(price.cost) {
            let current = prices[price.item]
            if current == nil || price.supersedes(current!) { out.append(.setPrice(price)) }
        }
        for buy in snapshot.committed
        where committed[buy.requestId] == nil && quantities.contains(buy.quantity) && !horizon.covers(buy) {
            out.append(.commit(buy))
        }
        // A restock stamped before the horizon is folded here already (every replica had the same ones
        // below it when it was agreed).
        for restock in snapshot.restocks
        where restock.time >= horizon.before && !recalledRestocks.contains(restock.opId)
            && (1...CatalogLimits.maxRestock).contains(restock.count)
        {
            if let existing = restocks[restock.opId], !restock.supersedes(existing) { continue }
            out.append(.restock(restock))
        }
        // A refusal stamped before the horizon is folded here already (or never reached here, and every
        // order replica's log has it).
        for requestId in snapshot.rejected ?? [] where committed[requestId] == nil {
            let time = snapshot.refusedAt?[requestId]
            let stamp = time ?? .max
            if stamp < horizon.before { continue }
            if let existing = refusals[requestId], existing >= stamp { continue }
            out.append(.reject(requestId: requestId, timeMicros: time))
        }
        let committedThere = Set(snapshot.committed.map(\.requestId))
        let rejectedThere = Set(snapshot.rejected ?? [])
        for hold in snapshot.holds
        where holds[hold.requestId] == nil && committed[hold.requestId] == nil
            && !committedThere.contains(hold.requestId) && refusals[hold.requestId] == nil
            && !rejectedThere.contains(hold.requestId) && quantities.contains(hold.quantity)
        {
            out.append(.hold(hold))
        }
        return out
    }

    /// Holds older than `timeoutMicros`: their buys may have lost their coordinator.
    public func staleHolds(nowMicros: Int64, timeoutMicros: Int64) -> [Hold] {
        holds.values.filter { nowMicros - $0.createdMicros >= timeoutMicros }.sorted { $0.requestId < $1.requestId }
    }

    /// The items (with their topics) whose reads applying `mutations` changes: what a replica invalidates
    /// in the frontends' caches before it writes. Holds, their release and refusals change no read
    /// (lookups report copies on hand), so they invalidate nothing: a buy costs the frontends one
    /// invalidation per replica, at its commit.
    public func invalidations(for mutations: [CatalogMutation]) -> [Invalidation] {
        var items = Set<ItemID>()
        for mutation in mutations {
            switch mutation {
            case .hold, .releaseHold, .reject, .fold: break
            case .commit(let buy): items.insert(buy.item)
            case .restock(let restock): items.insert(restock.item)
            case .setPrice(let price): items.insert(price.item)
            case .addBook(let seed): items.insert(seed.item)
            }
        }
        return items.sorted().map { item in
            Invalidation(item: item, topic: seeds[item]?.topic ?? mutations.addedTopic(item) ?? "")
        }
    }

    // MARK: Applying

    public mutating func apply(_ mutation: CatalogMutation) {
        switch mutation {
        case .addBook(let seed):
            guard seeds[seed.item] == nil else { return }
            seeds[seed.item] = seed
            onHand[seed.item, default: 0] += seed.stock
        case .hold(let hold):
            guard holds[hold.requestId] == nil, committed[hold.requestId] == nil, refusals[hold.requestId] == nil
            else { return }
            holds[hold.requestId] = hold
            held[hold.item, default: 0] += hold.quantity
        case .releaseHold(let requestId):
            guard let hold = holds.removeValue(forKey: requestId) else { return }
            held[hold.item, default: 0] -= hold.quantity
        case .commit(let buy):
            guard committed[buy.requestId] == nil, !folded.covers(buy) else { return }
            if let hold = holds.removeValue(forKey: buy.requestId) { held[hold.item, default: 0] -= hold.quantity }
            // The order log is the truth: an order outranks a refusal.
            if refusals.removeValue(forKey: buy.requestId) != nil {
                digest.toggle("x", buy.requestId)
            }
            committed[buy.requestId] = buy
            digest.toggle("c", buy.requestId)
            onHand[buy.item, default: 0] -= buy.quantity
        case .restock(let restock):
            guard restock.time >= folded.before else { return }  // folded: counted already
            if let existing = restocks[restock.opId] {
                guard restock.supersedes(existing) else { return }
                digest.combine(existing.digestHash)
                onHand[existing.item, default: 0] -= existing.count
            }
            restocks[restock.opId] = restock
            digest.combine(restock.digestHash)
            onHand[restock.item, default: 0] += restock.count
        case .setPrice(let price):
            if let current = prices[price.item] {
                guard price.supersedes(current) else { return }
                digest.toggle("p", current.digestKey)
            }
            prices[price.item] = price
            digest.toggle("p", price.digestKey)
        case .reject(let requestId, let time):
            guard committed[requestId] == nil else { return }
            if let hold = holds.removeValue(forKey: requestId) { held[hold.item, default: 0] -= hold.quantity }
            let stamp = time ?? .max
            guard stamp >= folded.before else { return }  // folded: the order logs keep it
            if let existing = refusals[requestId] {
                refusals[requestId] = max(existing, stamp)
            } else {
                refusals[requestId] = stamp
                digest.toggle("x", requestId)
            }
        case .fold(let before, _, _):
            applyFold(before: before)
        }
    }

    public mutating func apply(_ mutations: [CatalogMutation]) {
        for m in mutations { apply(m) }
    }
}

extension [CatalogMutation] {
    fileprivate func addedTopic(_ item: ItemID) -> String? {
        for case .addBook(let seed) in self where seed.item == item { return seed.topic }
        return nil
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        lowercased() == other.lowercased()
    }
}
