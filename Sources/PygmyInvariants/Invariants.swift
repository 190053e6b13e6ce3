import PygmyBookstore

/// The invariants of the store, as pure functions over plain values: the simulator's checker
/// (`SimChecker`) and the chaos runner's (`ChaosCheck`) both call them, each with the state it read (a
/// simulated replica's `CatalogState` and `OrderLogState`, or what a real replica answered). Each returns
/// one human-readable line per violation, empty when the invariant holds.
public enum Invariants {
    /// What a client was told about one buy.
    public enum Told: Sendable, Hashable {
        /// The buy succeeded with this answer: it must be in the log, as answered.
        case acknowledged(BuyResponse)
        /// A definite refusal (`reason` names it): the buy must never be in the log.
        case refused(reason: String)
    }

    // MARK: Stock

    /// Copies per item, summed over `entries` (restocks, commits, orders…).
    public static func totals<S: Sequence>(
        _ entries: S,
        item: (S.Element) -> ItemID,
        count: (S.Element) -> Int
    ) -> [ItemID: Int] {
        var totals: [ItemID: Int] = [:]
        for entry in entries { totals[item(entry), default: 0] += count(entry) }
        return totals
    }

    /// Copies each seeded item should have on hand: seed + restocked − sold.
    public static func expectedStock(
        seeds: [CatalogSeed],
        restocked: [ItemID: Int],
        sold: [ItemID: Int]
    ) -> [ItemID: Int] {
        var expected: [ItemID: Int] = [:]
        for seed in seeds {
            expected[seed.item] = seed.stock + (restocked[seed.item] ?? 0) - (sold[seed.item] ?? 0)
        }
        return expected
    }

    /// The store never sells a copy it does not have: seed + restocked − sold is never negative.
    public static func neverOversold(seeds: [CatalogSeed], restocked: [ItemID: Int], sold: [ItemID: Int]) -> [String] {
        let expected = expectedStock(seeds: seeds, restocked: restocked, sold: sold)
        return seeds.compactMap { seed in
            guard let stock = expected[seed.item], stock < 0 else { return nil }
            return "the cluster sold \(-stock) more copies of item \(seed.item) than it had"
        }
    }

    /// Stock arithmetic on one catalog replica: for every seeded item, copies on hand = seed + restocked −
    /// sold, never negative, and none still held.
    /// - Parameters:
    ///   - onHand: the replica's copies on hand per item (an item it does not report is a violation).
    ///   - held: copies it still holds per item (pass `[:]` to check holds elsewhere).
    public static func stockArithmetic(
        replica: String,
        seeds: [CatalogSeed],
        restocked: [ItemID: Int],
        sold: [ItemID: Int],
        onHand: [ItemID: Int],
        held: [ItemID: Int] = [:]
    ) -> [String] {
        var problems: [String] = []
        for seed in seeds {
            let item = seed.item
            guard let actual = onHand[item] else {
                problems.append("\(replica): no stock line for item \(item)")
                continue
            }
            let added = restocked[item] ?? 0
            let taken = sold[item] ?? 0
            let expected = seed.stock + added - taken
            if actual != expected || actual < 0 {
                problems.append(
                    "\(replica) item \(item): \(actual) on hand, expected \(seed.stock) + \(added) − \(taken) = \(expected)"
                        + (actual < 0 ? " (negative stock)" : "")
                )
            }
            if let copies = held[item], copies != 0 {
                problems.append("\(replica) item \(item): \(copies) copies still held")
            }
        }
        return problems
    }

    // MARK: Order logs

    /// Every order replica holds the same orders as the first: `logs` is (replica, request id → order).
    public static func orderLogsEqual(_ logs: [(name: String, orders: [String: OrderRecord])]) -> [String] {
        guard let (firstName, first) = logs.first else { return [] }
        var problems: [String] = []
        for (name, orders) in logs.dropFirst() where orders != first {
            let onlyFirst = first.keys.filter { orders[$0] == nil }
            let onlyHere = orders.keys.filter { first[$0] == nil }
            let differing = first.keys.filter { orders[$0] != nil && orders[$0] != first[$0] }.sorted()
            var parts = [
                "order logs of \(firstName) and \(name) differ: \(firstName) has \(first.count) orders, \(name) has \(orders.count)"
            ]
            if !onlyFirst.isEmpty { parts.append("only on \(firstName): \(list(onlyFirst))") }
            if !onlyHere.isEmpty { parts.append("only on \(name): \(list(onlyHere))") }
            for id in differing.prefix(5) {
                let a = first[id]!
                let b = orders[id]!
                parts.append(
                    "\(id) is order \(a.order) by \(a.coordinator) on \(firstName) but order \(b.order) by \(b.coordinator) on \(name)"
                )
            }
            if differing.count > 5 { parts.append("\(differing.count) request ids differ in all") }
            problems.append(parts.joined(separator: "; "))
        }
        return problems
    }

    /// Every order replica holds the same refusals as the first: `rejections` is (replica, request ids).
    public static func rejectionsEqual(_ rejections: [(name: String, requestIds: Set<String>)]) -> [String] {
        guard let (firstName, first) = rejections.first else { return [] }
        return rejections.dropFirst().compactMap { name, ids in
            guard ids != first else { return nil }
            let onlyFirst = Array(first.subtracting(ids))
            let onlyHere = Array(ids.subtracting(first))
            return "rejections of \(firstName) and \(name) differ: only on \(firstName): "
                + "\(onlyFirst.isEmpty ? "none" : list(onlyFirst)); only on \(name): \(onlyHere.isEmpty ? "none" : list(onlyHere))"
        }
    }

    /// No order number is used twice in one log.
    public static func orderNumbersUnique(log name: String, _ orders: some Sequence<OrderRecord>) -> [String] {
        let repeated = Dictionary(grouping: orders, by: \.order).filter { $0.value.count > 1 }.keys
        guard !repeated.isEmpty else { return [] }
        return ["\(name) gave one order number to two orders: \(list(repeated.map(String.init)))"]
    }

    /// A catalog replica's committed buys are exactly the order log's orders, each with the log's item and
    /// quantity: `committed` and `log` are keyed by request id.
    /// With `folded`: the log's orders decided before `folded.before` are counted in `folded.sold` (per
    /// item, exactly) and the others are `committed`.
    public static func commitsMatchLog(
        replica: String,
        committed: [String: CommittedBuy],
        folded: FoldState? = nil,
        log fullLog: [String: OrderRecord]
    ) -> [String] {
        var problems: [String] = []
        var log = fullLog
        if let folded, folded.before > 0 {
            let below = fullLog.values.filter { $0.timeMicros < folded.before }
            let sold = totals(below, item: \.item, count: \.quantity)
            if sold.filter({ $0.value != 0 }) != folded.sold.filter({ $0.value != 0 }) {
                problems.append(
                    "\(replica) folded commits before \(folded.before) count \(folded.sold.sorted { $0.key < $1.key }) "
                        + "copies per item, the order log \(sold.sorted { $0.key < $1.key })"
                )
            }
            for record in below { log.removeValue(forKey: record.requestId) }
        }
        let extra = committed.keys.filter { log[$0] == nil }
        let missing = log.keys.filter { committed[$0] == nil }
        if !extra.isEmpty || !missing.isEmpty {
            problems.append(
                "\(replica) commits differ from the order log: \(extra.count) not in the log "
                    + "(\(extra.isEmpty ? "none" : list(extra))), \(missing.count) never committed "
                    + "(\(missing.isEmpty ? "none" : list(missing)))"
            )
        }
        for (id, buy) in committed.sorted(by: { $0.key < $1.key }) {
            if let record = log[id], record.item != buy.item || record.quantity != buy.quantity {
                problems.append(
                    "\(replica) commits differ from the order log: \(id) is item \(buy.item) × \(buy.quantity) here, "
                        + "item \(record.item) × \(record.quantity) in the log"
                )
            }
        }
        return problems
    }

    /// What clients were told against one order log (`log` names it): every acknowledged buy is in it, as
    /// answered; no refused buy is. `told` is keyed by request id; buys with an unknown outcome are left out.
    public static func clientOutcomes(log name: String, orders: [String: OrderRecord], told: [String: Told]) -> [String]
    {
        var missing: [String] = []
        var mismatched: [String] = []
        var refused: [String] = []
        for (id, outcome) in told.sorted(by: { $0.key < $1.key }) {
            let record = orders[id]
            switch outcome {
            case .acknowledged(let response):
                guard let record else {
                    missing.append("acknowledged buy \(id) (order \(response.order)) is missing from \(name)")
                    continue
                }
                if BuyResponse(record).decided != response.decided {
                    mismatched.append("\(name) records buy \(id) as \(record), but the client was told \(response)")
                }
            case .refused(let reason):
                if let record { refused.append("buy \(id) was refused (\(reason)) but \(name) has order \(record)") }
            }
        }
        return [missing, mismatched, refused].compactMap(summarised)
    }

    // MARK: Formatting

    /// Up to `limit` values, sorted, with the total when there are more.
    public static func list(_ values: [String], _ limit: Int = 5) -> String {
        let shown = values.sorted().prefix(limit).joined(separator: ", ")
        return values.count > limit ? "\(shown), … (\(values.count) in all)" : shown
    }

    /// The first of several violations of one kind, with how many more there are.
    private static func summarised(_ lines: [String]) -> String? {
        guard let first = lines.first else { return nil }
        return lines.count == 1 ? first : "\(first) (and \(lines.count - 1) more like it)"
    }
}
