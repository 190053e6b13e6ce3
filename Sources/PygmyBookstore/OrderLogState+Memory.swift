/// What keeps an order replica's memory and restart bounded however many orders the store has taken
/// (docs/DESIGN.md, Bounded history): the store keeps every order; memory keeps the recent ones.
///
/// Every order decided before a horizon the catalog replicas folded is in every order replica's log
/// (they folded it only once every order replica reported an equal digest of its orders below it), so
/// an order replica drops those from memory (`evict`), and its shell looks a request id up in the store
/// (`recall`) before the core handles an input that names one it does not have in memory.
extension OrderLogState {
    /// What lies before the digest mark, kept durably so that a restart loads only the orders and
    /// refusals at or after the mark (`restored`) instead of replaying the whole log. Written only when
    /// it changes (`differsFrom`): the mark moved, or an order or refusal before it came in. Whatever came
    /// in since the last write is at or after its mark, so a restart loads it.
    public struct Counters: Codable, Sendable, Hashable {
        public var digestMark: Int64
        /// The orders before the mark: their commit digest (`commitDigest(below:)`), their part of the
        /// log's digest, and how many.
        public var digestBelowMark: UInt64
        public var ordersBelowMark: UInt64
        public var countBelowMark: Int
        /// The refusals (with a time) before the mark: their digest, which is also their part of the
        /// log's digest.
        public var refusalsBelowMark: UInt64
        /// The order sequence and latest decision time when written: a restart takes the higher of these
        /// and the loaded orders' (both only grow, and every order since is loaded).
        public var sequence: Int
        public var latestTime: Int64

        public init(
            digestMark: Int64,
            digestBelowMark: UInt64,
            ordersBelowMark: UInt64,
            countBelowMark: Int,
            refusalsBelowMark: UInt64,
            sequence: Int,
            latestTime: Int64
        ) {
            self.digestMark = digestMark
            self.digestBelowMark = digestBelowMark
            self.ordersBelowMark = ordersBelowMark
            self.countBelowMark = countBelowMark
            self.refusalsBelowMark = refusalsBelowMark
            self.sequence = sequence
            self.latestTime = latestTime
        }

        /// Whether what lies before the mark differs from `stored` (the sequence and latest time need
        /// not be rewritten for every order: a restart recovers them from the orders it loads).
        public func differsFrom(_ stored: Counters?) -> Bool {
            guard let stored else { return true }
            return digestMark != stored.digestMark || digestBelowMark != stored.digestBelowMark
                || ordersBelowMark != stored.ordersBelowMark || countBelowMark != stored.countBelowMark
                || refusalsBelowMark != stored.refusalsBelowMark
        }
    }

    public var counters: Counters {
        Counters(
            digestMark: digestMark,
            digestBelowMark: digestBelowMark,
            ordersBelowMark: ordersBelowMark,
            countBelowMark: countBelowMark,
            refusalsBelowMark: refusalsBelowMark,
            sequence: sequence,
            latestTime: latestTime
        )
    }

    /// Whether a store must load `record` at a restart with `counters`: it is at or after the mark
    /// (every order before it is counted in them, and delivered: `advanceDigestMark`).
    public static func loads(_ record: OrderRecord, with counters: Counters) -> Bool {
        record.timeMicros >= counters.digestMark
    }

    /// Whether a store must load `rejection` at a restart with `counters`: it is at or after the mark.
    public static func loads(_ rejection: Rejection, with counters: Counters) -> Bool {
        rejection.timeMicros == nil || rejection.time >= counters.digestMark
    }

    /// The log a store restores at a restart: `counters` as last persisted, the orders and refusals
    /// `loads` selects (`undelivered`: those of the orders not yet delivered), and every pending buy.
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
        state.digestMark = counters.digestMark
        state.digestBelowMark = counters.digestBelowMark
        state.ordersBelowMark = counters.ordersBelowMark
        state.countBelowMark = counters.countBelowMark
        state.refusalsBelowMark = counters.refusalsBelowMark
        state.digest.combine(counters.ordersBelowMark ^ counters.refusalsBelowMark)
        state.count = counters.countBelowMark
        state.sequence = counters.sequence
        state.latestTime = counters.latestTime
        state.storedCounters = counters
        // Counted as they come in, as when they were first applied.
        state.apply(orders.map(OrderMutation.order))
        state.undelivered = undelivered.filter { state.orders[$0] != nil }
        state.apply(rejections.map(OrderMutation.reject))
        state.apply(pending.map(OrderMutation.begin))
        state.promisedFloor = promisedFloor
        return state
    }

    /// The log as a store written by this durable copy would restore it (the simulator restarts a node
    /// through this, as the node restarts through its store): everything, if no counters were persisted.
    public var reloaded: OrderLogState {
        guard let counters = storedCounters else { return self }
        return Self.restored(
            replicaIndex: replicaIndex,
            replicaCount: replicaCount,
            counters: counters,
            orders: orders.values.filter { Self.loads($0, with: counters) },
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
