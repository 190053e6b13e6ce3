import PygmyBookstore

/// The store lookups that let an order replica keep only its recent orders in memory (docs/DESIGN.md,
/// Bounded history): an input naming a request id the log does not hold in memory (a buy retried long
/// after, a catalog replica asking about a hold, a peer's orders to merge) first has it looked up in
/// the store by the shell, so the core decides as if it held the whole log.
extension OrderReplica {
    /// Only ids the store may hold without memory: nothing is evicted before a first fold, and an order
    /// decided at or after the digest mark was never evicted, so a peer's such order that memory lacks is
    /// new (the lookup costs a buy a store read; most merges need none). Refusals are always looked up: a
    /// peer's may be a later stamp of one evicted here (found by the simulator, seeds 5453 and 11521).
    public func requestIdsToRecall(_ input: Input) -> [String] {
        guard log.digestMark > 0 else { return [] }
        let mark = log.digestMark
        let named: [String]
        switch input {
        case .request(_, .buy(let request), _): named = [request.requestId]
        case .request(_, .resolve(let request), _): named = [request.requestId]
        case .request(_, .replicate(let request), _):
            named = Self.maybeEvicted(request.orders, request.rejections, mark: mark)
        case .reply(_, .answered(.log(let snapshot), _)):
            named = Self.maybeEvicted(snapshot.orders, snapshot.rejections, mark: mark)
        default: return []
        }
        return named.filter { log.outcome(of: $0) == nil && log.pending[$0] == nil }
    }

    private static func maybeEvicted(_ orders: [OrderRecord], _ refusals: [Rejection], mark: Int64) -> [String] {
        orders.filter { $0.timeMicros < mark }.map(\.requestId) + refusals.map(\.requestId)
    }

    public mutating func recall(_ outcomes: [BuyOutcome]) { log.recall(outcomes) }
}
