/// A buy that was refused for good (out of stock, unknown item): retrying its request id returns this.
public struct Rejection: Codable, Sendable, Hashable {
    public var requestId: String
    public var code: BookstoreError.Code
    public var message: String
    /// The coordinator's stamp, taken when it sent its first final abort (`OrderLogState.decisionTime`
    /// then; the catalogs got it as `AbortRequest.refusedAt`): refusals are folded out of memory and
    /// syncs like orders (PROTOCOL.md §6.7). Absent (older logs): as if 0.
    public var timeMicros: Int64?

    public init(requestId: String, code: BookstoreError.Code, message: String, timeMicros: Int64? = nil) {
        self.requestId = requestId
        self.code = code
        self.message = message
        self.timeMicros = timeMicros
    }

    /// The time folding and syncs go by.
    public var time: Int64 { timeMicros ?? 0 }

    /// Whether a replica holding `existing` for the same request id keeps this one instead: the earlier
    /// (then the smaller code and message, so every replica picks the same).
    public func supersedes(_ existing: Rejection) -> Bool {
        (time, code.rawValue, message) < (existing.time, existing.code.rawValue, existing.message)
    }

    /// What a refusal adds to the log's digest: its request id and time, so that two logs that refused
    /// one id at different times differ, and anti-entropy makes them keep the earlier.
    static func hash(_ requestId: String, _ time: Int64) -> UInt64 {
        ReplicaDigest.hash("j", "\(requestId)\u{1F}\(time)")
    }
}

/// A buy whose holds were requested but whose outcome is not yet decided. Written before the first hold
/// is sent, so a coordinator that crashes knows which holds to release when it restarts.
public struct PendingBuy: Codable, Sendable, Hashable {
    public var requestId: String
    public var item: ItemID
    public var quantity: Int

    public init(requestId: String, item: ItemID, quantity: Int) {
        self.requestId = requestId
        self.item = item
        self.quantity = quantity
    }
}

/// The final outcome of a request id, as the order log remembers it.
public enum BuyOutcome: Codable, Sendable, Hashable {
    case ordered(OrderRecord)
    case rejected(Rejection)
}

/// A durable change to an order replica.
public enum OrderMutation: Codable, Sendable, Hashable {
    case begin(PendingBuy)
    /// Forget a pending buy without an outcome (its holds were released; the request may be retried).
    case forget(requestId: String)
    case order(OrderRecord)
    case reject(Rejection)
    /// Every catalog replica acknowledged the commit of this order.
    case delivered(requestId: String)
    /// What a restart needs besides the orders and refusals at or after the digest mark
    /// (`OrderLogState.Counters`): the core appends it to a batch whenever what lies before the mark
    /// changed (the mark moved, or an order or refusal before it came in), not with every order.
    case counters(OrderLogState.Counters)
    /// A promise: no order this replica decides from now on is stamped before this time (so catalog
    /// replicas may fold commits older than it while no order is taken).
    case promiseFloor(Int64)
}

/// An order replica's log: orders, final rejections, pending buys and undelivered commits. Pure.
///
/// In a node's memory, `orders` holds only the orders the catalog replicas have not folded, the
/// undelivered ones and those recalled from the store for the input at hand (`evict`, `recall`; see
/// OrderLogState+Memory.swift); the store keeps every order. A copy that applies every mutation and
/// never evicts (the simulator's durable state) holds the whole log.
public struct OrderLogState: Sendable {
    public internal(set) var orders: [String: OrderRecord] = [:]
    public internal(set) var rejections: [String: Rejection] = [:]
    public internal(set) var pending: [String: PendingBuy] = [:]
    /// Orders whose commit has not yet reached every catalog replica.
    public internal(set) var undelivered: Set<String> = []
    /// Fingerprint of the orders and refusals, for anti-entropy.
    public internal(set) var digest = ReplicaDigest()
    /// The highest local sequence number used for order numbers.
    public internal(set) var sequence = 0
    /// The latest decision time of any order in the log. A new order is stamped no earlier (see
    /// `decisionTime`), so catalog replicas may fold every commit below `foldFloor`.
    public internal(set) var latestTime: Int64 = 0
    /// The latest `promiseFloor`.
    public internal(set) var promisedFloor: Int64 = 0
    /// The digest of the orders decided before `digestMark`, and the decision times of those at or after
    /// it: what `commitDigest(below:)` needs, without a pass over the whole log.
    public internal(set) var digestMark: Int64 = 0
    var digestBelowMark: UInt64 = 0
    var recentTimes: [String: Int64] = [:]
    /// As `digestBelowMark` and `recentTimes`, for refusals (`refusalDigest(below:)`).
    var refusalsBelowMark: UInt64 = 0
    var recentRefusalTimes: [String: Int64] = [:]
    /// The orders before the mark: their part of `digest`, and how many (a restart starts from these and
    /// loads the rest, `Counters`).
    var ordersBelowMark: UInt64 = 0
    var countBelowMark = 0
    /// How many orders the log holds, evicted ones included.
    public internal(set) var count = 0
    /// The counters last persisted (`OrderMutation.counters`): what a restart starts from; nil in a store
    /// written before counters were kept.
    public internal(set) var storedCounters: Counters?
    public let replicaIndex: Int
    public let replicaCount: Int

    public init(replicaIndex: Int, replicaCount: Int) {
        precondition(replicaCount >= 1 && (0..<replicaCount).contains(replicaIndex))
        self.replicaIndex = replicaIndex
        self.replicaCount = replicaCount
    }

    /// The outcome already decided for `requestId`, if any.
    public func outcome(of requestId: String) -> BuyOutcome? {
        if let order = orders[requestId] { return .ordered(order) }
        if let rejection = rejections[requestId] { return .rejected(rejection) }
        return nil
    }

    /// The next order number this replica would hand out: replicas number in disjoint residue classes.
    public func nextOrderNumber() -> Int {
        (sequence + 1) * replicaCount + replicaIndex + 1 - replicaCount
    }

    /// The time to stamp a new order with: the clock, but never before an order already in the log, so
    /// no order this replica decides is older than a fold floor it has reported.
    public func decisionTime(clock: Int64) -> Int64 { max(clock, latestTime, promisedFloor) }

    /// No order below this time can still reach a catalog replica from this log: every order older than it
    /// is delivered, and every order this replica decides from now on is stamped at or after it. Catalog
    /// replicas fold commits only below every order replica's floor.
    public var foldFloor: Int64 {
        var floor = max(latestTime, promisedFloor)
        for requestId in undelivered { if let time = orders[requestId]?.timeMicros { floor = min(floor, time) } }
        return floor
    }

    /// The digest (as a catalog replica's `CatalogState.commitDigest(below:)`) of the request ids of every
    /// order decided before `horizon`: equal to the catalogs' when this log has exactly the orders they
    /// committed below it. `horizon` must not be below the mark (`advanceDigestMark`).
    public func commitDigest(below horizon: Int64) -> UInt64 {
        precondition(horizon >= digestMark, "a horizon below the digest mark")
        var value = digestBelowMark
        for (requestId, time) in recentTimes where time < horizon { value ^= ReplicaDigest.hash("c", requestId) }
        return value
    }

    /// The digest of the refusals recorded before `horizon` (order replicas fold only when theirs are
    /// equal, so every order replica has every refusal below a folded horizon). `horizon` must not be
    /// below the mark.
    public func refusalDigest(below horizon: Int64) -> UInt64 {
        precondition(horizon >= digestMark, "a horizon below the digest mark")
        var value = refusalsBelowMark
        for (requestId, time) in recentRefusalTimes where time < horizon { value ^= Rejection.hash(requestId, time) }
        return value
    }

    /// Catalog replicas folded up to `horizon`: no later proposal is below it, so the orders and refusals
    /// before it need no entry of their own in the digest indexes. Every catalog replica committed every
    /// order before it (the fold needed their commit digests equal to this log's), so those count as
    /// delivered.
    public mutating func advanceDigestMark(to horizon: Int64) {
        guard horizon > digestMark else { return }
        for (requestId, time) in recentTimes where time < horizon {
            guard let record = orders[requestId] else {
                preconditionFailure("an order at or after the digest mark is always in memory")
            }
            recentTimes.removeValue(forKey: requestId)
            digestBelowMark ^= ReplicaDigest.hash("c", requestId)
            ordersBelowMark ^= ReplicaDigest.hash("o", record.digestKey)
            countBelowMark += 1
            undelivered.remove(requestId)
        }
        for (requestId, time) in recentRefusalTimes where time < horizon {
            recentRefusalTimes.removeValue(forKey: requestId)
            refusalsBelowMark ^= Rejection.hash(requestId, time)
        }
        digestMark = horizon
    }

    /// Counts a refusal in the digests (and the time index); `unnote` takes it out again. A refusal
    /// without a time (an older log's) counts in the whole digest only: it is never folded, evicted or
    /// left out of a sync, so logs that differ in one converge.
    private mutating func note(_ rejection: Rejection) {
        let hash = Rejection.hash(rejection.requestId, rejection.time)
        digest.combine(hash)
        guard rejection.timeMicros != nil else { return }
        if rejection.time < digestMark {
            refusalsBelowMark ^= hash
        } else {
            recentRefusalTimes[rejection.requestId] = rejection.time
        }
    }

    private mutating func unnote(_ rejection: Rejection) {
        let hash = Rejection.hash(rejection.requestId, rejection.time)
        digest.combine(hash)
        guard rejection.timeMicros != nil else { return }
        if recentRefusalTimes.removeValue(forKey: rejection.requestId) == nil { refusalsBelowMark ^= hash }
    }

    /// The orders numbered above `after` and decided at or after `since`, oldest number first (filtered
    /// before sorting: a sync that asks for the recent orders sorts only those).
    public func orders(after: Int, since: Int64?) -> [OrderRecord] {
        let floor = since ?? .min
        return orders.values.filter { $0.order > after && $0.timeMicros >= floor }.sorted { $0.order < $1.order }
    }

    /// All orders, oldest order number first.
    public var orderedLog: [OrderRecord] { orders.values.sorted { $0.order < $1.order } }

    public mutating func apply(_ mutation: OrderMutation) {
        switch mutation {
        case .begin(let buy):
            if orders[buy.requestId] == nil { pending[buy.requestId] = buy }
        case .forget(let requestId):
            pending.removeValue(forKey: requestId)
        case .order(let record):
            pending.removeValue(forKey: record.requestId)
            // A commit outranks a rejection recorded elsewhere for the same id.
            if let rejection = rejections.removeValue(forKey: record.requestId) { unnote(rejection) }
            if orders[record.requestId] == nil {
                orders[record.requestId] = record
                latestTime = max(latestTime, record.timeMicros)
                if record.timeMicros < digestMark {
                    digestBelowMark ^= ReplicaDigest.hash("c", record.requestId)
                    ordersBelowMark ^= ReplicaDigest.hash("o", record.digestKey)
                    countBelowMark += 1
                } else {
                    recentTimes[record.requestId] = record.timeMicros
                }
                digest.toggle("o", record.digestKey)
                undelivered.insert(record.requestId)
                count += 1
            }
            let local = (record.order - replicaIndex - 1 + replicaCount) / replicaCount
            if (record.order - 1) % replicaCount == replicaIndex { sequence = max(sequence, local) }
        case .reject(let rejection):
            pending.removeValue(forKey: rejection.requestId)
            guard orders[rejection.requestId] == nil else { break }
            // Two coordinators may both refuse one request id: every replica keeps the earliest.
            if let existing = rejections[rejection.requestId] {
                guard rejection.supersedes(existing) else { break }
                unnote(existing)
            }
            rejections[rejection.requestId] = rejection
            note(rejection)
        case .delivered(let requestId):
            undelivered.remove(requestId)
        case .promiseFloor(let time):
            promisedFloor = max(promisedFloor, time)
        case .counters(let counters):
            storedCounters = counters
        }
    }

    public mutating func apply(_ mutations: [OrderMutation]) {
        for m in mutations { apply(m) }
    }

    /// Mutations that merge a peer's orders and rejections into this log.
    public func mutationsToMerge(
        orders peerOrders: [OrderRecord],
        rejections peerRejections: [Rejection]
    )
        -> [OrderMutation]
    {
        var out: [OrderMutation] = []
        for record in peerOrders where orders[record.requestId] == nil { out.append(.order(record)) }
        for rejection in peerRejections where orders[rejection.requestId] == nil {
            if let existing = rejections[rejection.requestId], !rejection.supersedes(existing) { continue }
            out.append(.reject(rejection))
        }
        return out
    }
}

extension OrderRecord {
    /// The whole record, for `ReplicaDigest`: two logs that give one request id different orders have
    /// different digests, so anti-entropy sees it.
    var digestKey: String {
        "\(requestId)\u{1F}\(order)\u{1F}\(item)\u{1F}\(quantity)\u{1F}\(unitCost)\u{1F}\(timeMicros)\u{1F}\(coordinator)"
    }
}
