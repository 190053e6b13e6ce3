import PygmyBookstore
import PygmyInvariants
import PygmyReplica

/// The invariants, checked as the run goes (on every write) and once the cluster has converged.
final class SimChecker {
    let cluster: SimCluster
    private var ledger: SimLedger { cluster.ledger }

    /// The first order record any replica stored for each request id.
    private var recorded: [String: OrderRecord] = [:]
    /// Every commit any catalog replica ever held (`catalogWritten`).
    private var everCommitted: [String: CommittedBuy] = [:]

    /// The membership each node adopted for each epoch.
    private var chosen: [UInt64: Membership] = [:]

    init(cluster: SimCluster) {
        self.cluster = cluster
        for replica in cluster.catalogs { replica.onMembership = { [unowned self] in membershipAdopted($0) } }
        for replica in cluster.orders { replica.onMembership = { [unowned self] in membershipAdopted($0) } }
        for catalog in cluster.catalogs {
            catalog.onPersist = { [unowned self, unowned catalog] in catalogWritten(catalog) }
        }
        for order in cluster.orders {
            order.onPersist = { [unowned self, unowned order] in orderWritten(order) }
        }
    }

    /// No epoch ever has two different memberships (consensus chose one value per epoch).
    private func membershipAdopted(_ acceptor: MembershipAcceptor) {
        let current = acceptor.current
        if let first = chosen[current.epoch] {
            if first != current { ledger.violation("epoch \(current.epoch) is both \(first) and \(current)") }
        } else {
            chosen[current.epoch] = current
        }
    }

    /// No request id ever becomes two different orders, in any log, at any step.
    private func orderWritten(_ order: SimOrder) {
        for (id, record) in order.log.orders {
            if let first = recorded[id] {
                if first != record {
                    ledger.violation("request id \(id) is order \(first) at one replica and \(record) at \(order.name)")
                }
            } else {
                recorded[id] = record
                ledger.orderTimes[id] = record.timeMicros
            }
        }
    }

    /// Called after every event: nothing to do between writes yet (writes are checked as they happen).
    func checkStep() {}

    /// The store never sells a copy it does not have: for every item, seeded stock plus every restock any
    /// replica knows minus every commit any replica knows is never negative, at any step. (One replica's
    /// own count may briefly run below zero: a replica that rejoined while its peer was down may know a
    /// commit before the restock it consumed; the end checks require exact agreement.)
    private func catalogWritten(_ catalog: SimCatalog) {
        var restocks: [String: Restock] = [:]
        for replica in cluster.catalogs {
            restocks.merge(replica.durable.restocksEver) { a, _ in a }  // folding drops restocks too
            // Every commit any replica ever had: folding drops commits from the replicas' sets.
            everCommitted.merge(replica.state.committed) { a, _ in a }
        }
        let restocked = Invariants.totals(restocks.values, item: \.item, count: \.count)
        let sold = Invariants.totals(everCommitted.values, item: \.item, count: \.quantity)
        for problem in Invariants.neverOversold(seeds: cluster.books, restocked: restocked, sold: sold) {
            ledger.violation(problem)
        }
    }

    /// Whether the replicas agree: every server up, catalogs ready with equal commits and restocks and no
    /// holds, order logs equal with nothing pending.
    var converged: Bool {
        guard cluster.allUp, cluster.catalogs.allSatisfy(\.ready) else { return false }
        let first = cluster.catalogs[0].state
        for catalog in cluster.catalogs {
            let state = catalog.state
            // Replicas that folded to different horizons hold different sets but the same commits: compare
            // the digest of every commit, folded or not, and the stock.
            guard state.holds.isEmpty, state.restocks == first.restocks,
                state.commitDigest(below: .max) == first.commitDigest(below: .max),
                cluster.books.allSatisfy({ state.stockOnHand($0.item) == first.stockOnHand($0.item) })
            else {
                return false
            }
        }
        let log = cluster.orders[0].log
        for order in cluster.orders {
            // Refusals whole: two coordinators may refuse one id at different times, and anti-entropy
            // settles on the earlier.
            guard order.log.orders == log.orders, order.log.pending.isEmpty, order.log.rejections == log.rejections
            else { return false }
        }
        return first.commitDigest(below: .max) == log.commitDigest(below: .max)
    }

    /// After the faults stop and the cluster settles.
    func checkEnd() {
        for node in cluster.servers where !node.alive { ledger.violation("\(node.name) is still down at the end") }
        for catalog in cluster.catalogs where !catalog.ready {
            ledger.violation("\(catalog.name) never became ready again")
        }
        checkOrderLogs()
        checkCatalogs()
    }

    private func checkOrderLogs() {
        let logs = cluster.orders.map { ($0.name, $0.log) }
        var problems = Invariants.orderLogsEqual(logs.map { ($0.0, $0.1.orders) })
        problems += Invariants.rejectionsEqual(logs.map { ($0.0, Set($0.1.rejections.keys)) })
        for (name, log) in logs {
            problems += Invariants.orderNumbersUnique(log: name, log.orders.values)
            if !log.pending.isEmpty { problems.append("\(name) still has pending buys \(log.pending.keys.sorted())") }
        }
        let refusals = logs.map { Set($0.1.rejections.values) }
        if Set(refusals).count > 1 {
            let differing = refusals.dropFirst().flatMap { $0.symmetricDifference(refusals[0]) }
                .map { "\($0.requestId)@\($0.time) \($0.code)" }
            problems.append("the order logs keep different refusals (times, codes): \(Set(differing).sorted())")
        }
        // The core keeps part of its log in memory and counters for the rest: they must describe the
        // whole log its durable state holds.
        for order in cluster.orders {
            guard let memory = order.core?.log else { continue }
            let whole = order.log
            if memory.digest != whole.digest || memory.count != whole.count
                || memory.nextOrderNumber() != whole.nextOrderNumber() || memory.latestTime != whole.latestTime
            {
                problems.append(
                    "\(order.name)'s counters in memory (count \(memory.count), digest \(memory.digest.value)) differ from "
                        + "its whole log (count \(whole.count), digest \(whole.digest.value))"
                )
            }
        }
        // An unknown outcome is zero or one order: one per request id by construction of the log.
        let told = ledger.buys.compactMapValues { buy -> Invariants.Told? in
            switch buy.outcome {
            case .acknowledged(let response): .acknowledged(response)
            case .rejected(let code): .refused(reason: "\(code)")
            case .unknown: nil
            }
        }
        for (name, log) in logs { problems += Invariants.clientOutcomes(log: name, orders: log.orders, told: told) }
        for problem in problems { ledger.violation(problem) }
    }

    private func checkCatalogs() {
        guard let log = cluster.orders.first?.log else { return }
        let firstRestocks = cluster.catalogs[0].state.restocks
        for catalog in cluster.catalogs {
            let state = catalog.state
            for problem in Invariants.commitsMatchLog(
                replica: catalog.name,
                committed: state.committed,
                folded: state.folded,
                log: log.orders
            ) {
                ledger.violation(problem)
            }
            if state.restocks != firstRestocks { ledger.violation("\(catalog.name) has different restocks") }
            // Each restock counted once, folded or not: a retry of a folded one must apply nothing.
            let counted = Invariants.totals(state.restocks.values, item: \.item, count: \.count)
                .merging(state.folded.restocked, uniquingKeysWith: +).filter { $0.value != 0 }
            let applied = Invariants.totals(catalog.durable.restocksEver.values, item: \.item, count: \.count)
            if counted != applied {
                ledger.violation("\(catalog.name) counts restocked copies \(counted), its restocks add \(applied)")
            }
            for (opId, (_, acknowledged)) in ledger.restocks
            where acknowledged && catalog.durable.restocksEver[opId] == nil {
                ledger.violation("\(catalog.name) lost acknowledged restock \(opId)")
            }
            if !state.holds.isEmpty {
                ledger.violation("\(catalog.name) still holds \(state.holds.keys.sorted()) after convergence")
            }
            let problems = Invariants.stockArithmetic(
                replica: catalog.name,
                seeds: cluster.books,
                restocked: Invariants.totals(state.restocks.values, item: \.item, count: \.count)
                    .merging(state.folded.restocked, uniquingKeysWith: +),
                sold: Invariants.totals(state.committed.values, item: \.item, count: \.quantity)
                    .merging(state.folded.sold, uniquingKeysWith: +),
                onHand: Dictionary(uniqueKeysWithValues: cluster.books.map { ($0.item, state.stockOnHand($0.item)) })
            )
            for problem in problems { ledger.violation(problem) }
        }
    }
}
