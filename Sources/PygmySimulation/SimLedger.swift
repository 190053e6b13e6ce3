import PygmyBookstore

/// Everything the clients saw, and the violations found along the way.
final class SimLedger {
    let items: Int
    var buys: [String: SimBuy] = [:]
    var restocks: [String: (RestockRequest, Bool)] = [:]
    private(set) var acknowledgedByItem: [ItemID: Set<String>] = [:]
    /// When each order was decided (as any order log recorded it), to tell folded commits in reads.
    var orderTimes: [String: Int64] = [:]
    private(set) var violations: [String] = []
    private var unfinishedClients: Int
    var clientsDone: Bool { unfinishedClients == 0 }
    var onViolation: (String) -> Void = { _ in }

    init(items: Int, clients: Int) {
        self.items = items
        self.unfinishedClients = clients
    }

    func clientFinished() { unfinishedClients -= 1 }

    func acknowledged(_ response: BuyResponse, at time: Int64) {
        acknowledgedByItem[response.item, default: []].insert(response.requestId)
    }

    func acknowledgedBuys(of item: ItemID) -> Set<String> { acknowledgedByItem[item] ?? [] }

    func violation(_ text: String) {
        guard violations.count < 50, !violations.contains(text) else { return }
        violations.append(text)
        onViolation(text)
    }
}
