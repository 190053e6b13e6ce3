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

        public init(
            digest: UInt64,
            count: Int,
            sequence: Int,
            latestTime: Int64,
            digestMark: Int64,
            digestBelowMark: UInt64
        ) {
            self.digest = digest
            self.count = count
            self.sequence = sequence
            self.latestTime = latestTime
            self.digestMark = digestMark
            self.digestBelowMark = digestBelowMark
        }
    }

    public var counters: Counters {
        Counters(
            digest: digest.value,
            count: count,
            sequence: sequence,
            latestTime: latestTime,
            digestMark: digestMark,
            digestBelowMark: digestBelowMark
        )
    }

    /// Whether a store must load `record` at a restart with `counters`: it is at or after the mark, or
    /// not yet delivered to every catalog replica.
    public static func loads(_ record: OrderRecord, delivered: Bool, with counters: Counters) -> Bool {
        record.timeMicros >= counters.digestMark || !delivered
    }

    /// The log a store restores at a restart: `counters` as persisted with the last batch, the orders
    /// `loads` selects (`undelivered`: those of them not yet delivered), and every refusal and pending buy.
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
        state.storedCounters = counters
        for record in orders {
            state.orders[record.requestId] = record
            if record.timeMicros >= counters.digestMark { state.recentTimes[record.requestId] = record.timeMicros }
        }
        state.undelivered = undelivered
        for rejection in rejections { state.rejections[rejection.requestId] = rejection }
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
            rejections: Array(rejections.values),
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

    /// Drops from memory the delivered orders decided before the digest mark (the highest horizon the
    /// catalogs folded): the store keeps them, and every order replica has them.
    public mutating func evict() {
        guard orders.count > recentTimes.count else { return }  // every order in memory is recent
        for (requestId, record) in orders where record.timeMicros < digestMark && !undelivered.contains(requestId) {
            orders.removeValue(forKey: requestId)
        }
    }

    /// How many orders are in memory now (for status and the history benchmark).
    public var ordersInMemory: Int { orders.count }
}
