/// What keeps an order replica's memory and restart bounded however many orders the store has taken
/// (docs/DESIGN.md, Bounded history): the store keeps every order; memory keeps the recent ones.
///
/// Every order decided before a horizon the catalog replicas folded is in every order replica's log
/// (they folded it only once every order replica reported an equal digest of its orders below it), so
/// an order replica drops those from memory (`evict`), and its shell looks a request id up in the store
/// (`recall`) before the core handles an input that names one it does not have in memory.
extension OrderLogState {
    /// The part of the log that is not a set of orders, kept with every persisted batch so that a
    /// restart loads only the recent orders (`restored`) instead of replaying the whole log.
    public struct Counters: Codable, Sendable, Hashable {
        public var digest: UInt64
        public var count: Int
        public var sequence: Int
        public var latestTime: Int64
        /// Orders decided before `digestMark` need not be in memory; `digestBelowMark` is their digest.
        public var digestMark: Int64
        public var digestBelowMark: UInt64
        /// The digest of the refusals recorded before `digestMark`.
        public var refusalsBelowMark: UInt64

        public init(
            digest: UInt64,
            count: Int,
            sequence: Int,
            latestTime: Int64,
            digestMark: Int64,
            digestBelowMark: UInt64,
            refusalsBelowMark: UInt64
        ) {
            self.digest = digest
            self.count = count
            self.sequence = sequence
            self.latestTime = latestTime
            self.digestMark = digestMark
            self.digestBelowMark = digestBelowMark
            self.refusalsBelowMark = refusalsBelowMark
        }
    }

    public var counters: Counters {
        Counters(
            digest: digest.value,
            count: count,
            sequence: sequence,
            latestTime: latestTime,
            digestMark: digestMark,
            digestBelowMark: digestBelowMark,
            refusalsBelowMark: refusalsBelowMark
        )
    }

    /// Whether a store must load `record` at a restart with `counters`: it is at or after the mark, or
    /// not yet delivered to every catalog replica.
    public static func loads(_ record: OrderRecord, delivered: Bool, with counters: Counters) -> Bool {
        record.timeMicros >= counters.digestMark || !delivered
    }

    /// Whether a store must load `rejection` at a restart with `counters`: it is at or after the mark.
    public static func loads(_ rejection: Rejection, with counters: Counters) -> Bool {
        rejection.timeMicros == nil || rejection.time >= counters.digestMark
    }

    /// The log a store restores at a restart: `counters` as persisted with the last batch, the orders
    /// and refusals `loads` selects (`undelivered`: those orders not yet delivered), and every pending
    /// buy.
    public static func restored(
        replicaIndex: Int,
        replicaCount: Int,
        counters: Counters,
        orders: [OrderRecord],
        undelivered: Set<String>,
        rejections: [Rejection],
        pending: [PendingBuy],
        promisedFloor: Int64
    ) -> OrderLogState {
        var state = OrderLogState(replicaIndex: replicaIndex, replicaCount: replicaCount)
        state.digest.combine(counters.digest)
        state.count = counters.count
        state.sequence = counters.sequence
        state.latestTime = counters.latestTime
        state.digestMark = counters.digestMark
        state.digestBelowMark = counters.digestBelowMark
        state.refusalsBelowMark = counters.refusalsBelowMark
        state.storedCounters = counters
        for record in orders {
            state.orders[record.requestId] = record
            if record.timeMicros >= counters.digestMark { state.recentTimes[record.requestId] = record.timeMicros }
        }
        state.undelivered = undelivered
        for rejection in rejections {
            state.rejections[rejection.requestId] = rejection
            if let time = rejection.timeMicros, time >= counters.digestMark {
                state.recentRefusalTimes[rejection.requestId] = time
            }
        }
        for buy in pending where state.orders[buy.requestId] == nil { state.pending[buy.requestId] = buy }
        state.promisedFloor = promisedFloor
        return state
    }

    /// The log as a store written by this durable copy would restore it (the simulator restarts a node
    /// through this, as the node restarts through its store): everything, if no counters were persisted.
    public var reloaded: OrderLogState {
        guard let counters = storedCounters else { return self }
        let loaded = orders.values.filter {
            Self.loads($0, delivered: !undelivered.contains($0.requestId), with: counters)
        }
        return Self.restored(
            replicaIndex: replicaIndex,
            replicaCount: replicaCount,
            counters: counters,
            orders: loaded,
            undelivered: undelivered,
            rejections: rejections.values.filter { Self.loads($0, with: counters) },
            pending: Array(pending.values),
            promisedFloor: promisedFloor
        )
    }

    /// Puts outcomes the store holds back in memory, for the input at hand: each counts in nothing
    /// (digest, counters), as it already does; a request id memory knows is left alone.
    public mutating func recall(_ outcomes: [BuyOutcome]) {
        for outcome in outcomes {
            switch outcome {
            case .ordered(let record):
                guard orders[record.requestId] == nil else { continue }
                rejections.removeValue(forKey: record.requestId)
                pending.removeValue(forKey: record.requestId)
                orders[record.requestId] = record
            case .rejected(let rejection):
                guard self.outcome(of: rejection.requestId) == nil else { continue }
                rejections[rejection.requestId] = rejection
            }
        }
    }

    /// Drops from memory the delivered orders and the refusals decided before the digest mark (the
    /// highest horizon the catalogs folded): the store keeps them, and every order replica has them.
    /// The outcomes of `running` (request ids with a buy in flight here) stay: a peer may have decided
    /// one while this replica's attempt runs, and the coordinator checks its log before it decides
    /// (found by the simulator, seed 1839: evicted, the check missed it and the buy was decided twice).
    public mutating func evict(keeping running: Set<String> = []) {
        if orders.count > recentTimes.count {  // else every order in memory is recent
            for (requestId, record) in orders
            where record.timeMicros < digestMark && !undelivered.contains(requestId) && !running.contains(requestId) {
                orders.removeValue(forKey: requestId)
            }
        }
        if rejections.count > recentRefusalTimes.count {  // (refusals without a time stay)
            for (requestId, rejection) in rejections
            where rejection.timeMicros != nil && rejection.time < digestMark && !running.contains(requestId) {
                rejections.removeValue(forKey: requestId)
            }
        }
    }

    /// How many orders are in memory now (for status and the history benchmark).
    public var ordersInMemory: Int { orders.count }

    /// The orders and refusals a peer syncing from `since` (the folded horizon it knows) may lack, from
    /// memory: those at or after `since` (every order replica had those below the highest folded horizon
    /// when it was folded, and memory holds those at or after it). Orders come oldest first, `limit` at
    /// most, after `from`; refusals come with the last page. `next` is where the next page starts.
    public func syncPage(since: Int64, from: SyncCursor?, limit: Int) -> OrderLogSnapshot {
        var selected = orders.values.filter { $0.timeMicros >= since }
        if let from { selected = selected.filter { from < SyncCursor($0) } }
        selected.sort { SyncCursor($0) < SyncCursor($1) }
        guard selected.count <= limit else {
            let page = Array(selected.prefix(limit))
            return OrderLogSnapshot(orders: page, rejections: [], next: page.last.map(SyncCursor.init))
        }
        let refusals = rejections.values.filter { $0.timeMicros == nil || $0.time >= since }
            .sorted { $0.requestId < $1.requestId }
        return OrderLogSnapshot(orders: selected, rejections: refusals)
    }
}
