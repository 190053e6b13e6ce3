import PygmyBookstore

/// The store lookups that let an order replica keep only its recent orders in memory (docs/DESIGN.md,
/// Bounded history): an input naming a request id the log does not hold in memory (a buy retried long
/// after, a catalog replica asking about a hold, a peer's orders to merge) first has it looked up in
/// the store by the shell, so the core decides as if it held the whole log.
extension OrderReplica {
    public func requestIdsToRecall(_ input: Input) -> [String] {
        let named: [String]
        switch input {
        case .request(_, .buy(let request), _): named = [request.requestId]
        case .request(_, .resolve(let request), _): named = [request.requestId]
        case .request(_, .replicate(let request), _):
            named = request.orders.map(\.requestId) + request.rejections.map(\.requestId)
        case .reply(_, .answered(.log(let snapshot), _)):
            named = snapshot.orders.map(\.requestId) + snapshot.rejections.map(\.requestId)
        default: return []
        }
        return named.filter { log.outcome(of: $0) == nil && log.pending[$0] == nil }
    }

    public mutating func recall(_ outcomes: [BuyOutcome]) { log.recall(outcomes) }
}
