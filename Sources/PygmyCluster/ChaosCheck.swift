import Foundation
import PygmyBookstore
import PygmyInvariants
import PygmyNodes
import PygmyRPC

/// The durable state of the cluster as each replica reports it when asked directly (not through the
/// frontend): both order logs (`Order.List`), both catalogs' stock (`NodeMethods.Health`) and their full
/// state (`Catalog.Snapshot`: committed buys, restocks, holds).
struct ChaosClusterState: Sendable {
    var logs: [String: OrderLogSnapshot] = [:]
    var health: [String: NodeStatus] = [:]
    var snapshots: [String: CatalogSnapshot] = [:]

    static let orderReplicas = ["order-1", "order-2"]
    static let catalogReplicas = ["catalog-1", "catalog-2"]

    /// Replicas that did not answer, and why.
    var errors: [String] = []
    /// Answers too large for the frame limit the nodes themselves use (read anyway, with a larger limit).
    var oversized: [String] = []

    /// Reads every replica (each call bounded by `timeout`); what could not be read is in `errors`.
    static func read(_ cluster: LocalCluster, timeout: Duration = .seconds(10)) async -> ChaosClusterState {
        var state = ChaosClusterState()
        for name in orderReplicas {
            do {
                // With TLS, only the other nodes' roles may list the log: use the frontend's certificate.
                state.logs[name] = try await state.readBig(cluster, name, role: "frontend", timeout: timeout) {
                    try await $0.chaosCall(Order.List.self, OrdersRequest(), timeout: timeout)
                }
            } catch {
                state.errors.append("\(name) \(Order.List.name): \(error)")
            }
        }
        for name in catalogReplicas {
            do {
                state.health[name] = try await cluster.withNodeClient(name, role: "catalog-1", timeout: timeout) {
                    try await $0.chaosCall(NodeMethods.Health.self, Empty(), timeout: timeout)
                }
                state.snapshots[name] = try await state.readBig(cluster, name, role: "catalog-1", timeout: timeout) {
                    try await $0.chaosCall(Catalog.Snapshot.self, SnapshotRequest(), timeout: timeout)
                }
            } catch {
                state.errors.append("\(name) \(NodeMethods.Health.name)/\(Catalog.Snapshot.name): \(error)")
            }
        }
        return state
    }

    /// Reads with a client like the nodes' own; if the answer is too large for their frame limit, notes it
    /// in `oversized` and reads it again with a client that accepts it.
    private mutating func readBig<T: Sendable>(
        _ cluster: LocalCluster,
        _ name: String,
        role: String,
        timeout: Duration,
        _ body: (RPCClient) async throws -> T
    ) async throws -> T {
        do {
            return try await cluster.withNodeClient(name, role: role, timeout: timeout, body)
        } catch let error as TransportError
            where error.kind == .protocolViolation && "\(error)".contains("frameTooLarge")
        {
            oversized.append("\(name): \(error.message)")
            return try await cluster.withInspectionClient(name, role: role, timeout: timeout, body)
        }
    }

    /// The log of the first order replica (the checker compares it with the others separately).
    var log: [OrderRecord] { logs[Self.orderReplicas[0]]?.orders ?? [] }

    /// Copies on hand each item should have, from the seed, the confirmed restocks and `log`.
    static func expectedStock(seeds: [CatalogSeed], restocks: [ChaosRestock], log: [OrderRecord]) -> [ItemID: Int] {
        Invariants.expectedStock(seeds: seeds, restocked: restocked(restocks), sold: sold(log))
    }

    /// Copies per item the confirmed restocks added.
    static func restocked(_ restocks: [ChaosRestock]) -> [ItemID: Int] {
        Invariants.totals(restocks.filter(\.confirmed), item: \.item, count: \.count)
    }

    /// Copies per item `log` ordered.
    static func sold(_ log: [OrderRecord]) -> [ItemID: Int] { Invariants.totals(log, item: \.item, count: \.quantity) }

    /// Both order logs equal, both catalogs at the expected stock with nothing held.
    func converged(seeds: [CatalogSeed], restocks: [ChaosRestock]) -> Bool {
        guard errors.isEmpty else { return false }
        let first = logs[Self.orderReplicas[0]]
        guard Self.orderReplicas.allSatisfy({ logs[$0]?.orders == first?.orders }) else { return false }
        let rejected = Set(first?.rejections.map(\.requestId) ?? [])
        guard Self.orderReplicas.allSatisfy({ Set(logs[$0]?.rejections.map(\.requestId) ?? []) == rejected }) else {
            return false
        }
        let expected = Self.expectedStock(seeds: seeds, restocks: restocks, log: log)
        for name in Self.catalogReplicas {
            guard let stock = health[name]?.stock, health[name]?.state == "ready" else { return false }
            for seed in seeds {
                guard let line = stock.first(where: { $0.item == seed.item }) else { return false }
                if line.held != 0 || line.onHand != expected[seed.item] { return false }
            }
            if snapshots[name]?.holds.isEmpty == false { return false }
        }
        return true
    }

    /// One line per replica for the progress output.
    var shortDescription: String {
        let orders = Self.orderReplicas.map { "\($0) \(logs[$0]?.orders.count ?? -1) orders" }
        let catalogs = Self.catalogReplicas.map { name in
            let stock = (health[name]?.stock ?? []).map { "\($0.item):\($0.onHand)/\($0.held)" }
            return "\(name) [\(stock.joined(separator: " "))]"
        }
        return (orders + catalogs + errors).joined(separator: "; ")
    }
}

/// What a buy that was re-sent with its original request id at the end of the run returned.
struct ChaosResend: Sendable {
    var buy: ChaosBuy
    var outcome: ChaosOutcome
}

/// The end-of-run invariants. Each violation is one human-readable line.
extension LocalCluster {
    /// Like `withNodeClient`, with a client that accepts frames of any size: the checker must read an
    /// order log or a catalog snapshot even when it has outgrown the nodes' own frame limit.
    func withInspectionClient<T: Sendable>(
        _ name: String,
        role: String,
        timeout: Duration,
        _ body: (RPCClient) async throws -> T
    ) async throws -> T {
        try await withNodeClient(name, role: role, timeout: timeout, maxFrameLength: 1 << 30, body)
    }

    /// Runs `body` with a client of node `name` (certificate of `role` on TLS), closed afterwards. It
    /// accepts answers as large as the nodes accept from each other.
    func withNodeClient<T: Sendable>(
        _ name: String,
        role: String = "client",
        timeout: Duration,
        maxFrameLength: Int = PeerLimits.maxFrameLength,
        _ body: (RPCClient) async throws -> T
    ) async throws -> T {
        try await client(name, certificateRole: role, timeout: timeout, maxFrameLength: maxFrameLength).closing(
            after: body
        )
    }
}

enum ChaosCheck {
    static func run(
        state: ChaosClusterState,
        buys: [ChaosBuy],
        retries: [ChaosResend],
        probes: [ChaosResend],
        restocks: [ChaosRestock],
        seeds: [CatalogSeed]
    ) -> [String] {
        var problems: [String] = []
        func problem(_ text: String) { problems.append(text) }
        for text in state.oversized {
            problem(
                "an answer no longer fits in one frame, so peers cannot fetch it (order replica recovery, "
                    + "anti-entropy and catalog rejoin fail): \(text)"
            )
        }
        // Without every replica's state the comparisons below would only report what is missing.
        guard state.errors.isEmpty else {
            for error in state.errors { problem("could not read the final state, invariants not checked: \(error)") }
            return problems
        }
        func list(_ ids: [String], _ limit: Int = 5) -> String { Invariants.list(ids, limit) }
        func byRequestId(_ orders: [OrderRecord]) -> [String: OrderRecord] {
            Dictionary(orders.map { ($0.requestId, $0) }, uniquingKeysWith: { a, _ in a })
        }

        // 1. Every order replica holds the same log, with no request id or order number twice.
        let names = ChaosClusterState.orderReplicas
        for name in names {
            let orders = state.logs[name]?.orders ?? []
            let ids = Dictionary(grouping: orders, by: \.requestId).filter { $0.value.count > 1 }
            if !ids.isEmpty { problem("\(name): request ids recorded more than once: \(list(Array(ids.keys)))") }
            problems += Invariants.orderNumbersUnique(log: name, orders)
            let overlap = Set(orders.map(\.requestId)).intersection(
                (state.logs[name]?.rejections ?? []).map(\.requestId)
            )
            if !overlap.isEmpty { problem("\(name): request ids both ordered and rejected: \(list(Array(overlap)))") }
        }
        let reference = state.logs[names[0]]?.orders ?? []
        let referenceById = byRequestId(reference)
        problems += Invariants.orderLogsEqual(names.map { ($0, byRequestId(state.logs[$0]?.orders ?? [])) })
        problems += Invariants.rejectionsEqual(
            names.map { ($0, Set((state.logs[$0]?.rejections ?? []).map(\.requestId))) }
        )

        // 2. The log against what clients were told. Union of the logs, so a record on either replica counts.
        var logged: [String: OrderRecord] = [:]
        for name in names {
            for record in state.logs[name]?.orders ?? [] where logged[record.requestId] == nil {
                logged[record.requestId] = record
            }
        }
        let issued = Dictionary(buys.map { ($0.requestId, $0) }, uniquingKeysWith: { a, _ in a })
        let phantom = logged.keys.filter { issued[$0] == nil }
        if !phantom.isEmpty { problem("orders no client asked for: \(list(phantom))") }
        for (id, record) in logged {
            guard let buy = issued[id] else { continue }
            if record.item != buy.item || record.quantity != buy.quantity {
                problem(
                    "\(id): ordered item \(record.item) × \(record.quantity), but the client asked for item \(buy.item) × \(buy.quantity)"
                )
            }
        }
        var told: [String: Invariants.Told] = [:]
        var neverSentButOrdered: [String] = []
        for buy in buys {
            switch buy.outcome {
            case .acknowledged(let order, let cost):
                let response = BuyResponse(
                    order: order,
                    item: buy.item,
                    quantity: buy.quantity,
                    cost: cost,
                    requestId: buy.requestId
                )
                told[buy.requestId] = .acknowledged(response)
            case .refused(let code):
                told[buy.requestId] = .refused(reason: "\(code)")
            case .notSent(let reason):
                if logged[buy.requestId] != nil { neverSentButOrdered.append("\(buy.requestId) (\(reason))") }
            case .unknown:
                break
            }
        }
        if !neverSentButOrdered.isEmpty {
            problem(
                "\(neverSentButOrdered.count) buys that never reached the frontend are in the order log: \(list(neverSentButOrdered))"
            )
        }
        problems += Invariants.clientOutcomes(log: "the order log", orders: logged, told: told)
        // A definite refusal must be durable, or a retry of the same id could execute it.
        let rejected = Set(names.flatMap { (state.logs[$0]?.rejections ?? []).map(\.requestId) })
        let undurable = buys.filter { $0.outcome.refusal != nil && !rejected.contains($0.requestId) }.map(\.requestId)
        if !undurable.isEmpty {
            problem(
                "\(undurable.count) buys refused to the client have no rejection in the order log: \(list(undurable))"
            )
        }

        // 3. Unknown outcomes, re-sent once with the same id: the answer must match the log.
        for retry in retries {
            switch retry.outcome {
            case .acknowledged(let order, _):
                if let record = logged[retry.buy.requestId] {
                    if record.order != order {
                        problem(
                            "\(retry.buy.requestId): the retry was told order \(order), the log has order \(record.order)"
                        )
                    }
                } else {
                    problem(
                        "\(retry.buy.requestId): the retry was acknowledged (order \(order)) but it is not in the log"
                    )
                }
            case .refused(let code):
                if logged[retry.buy.requestId] != nil {
                    problem("\(retry.buy.requestId): the retry was refused (\(code)) but the buy is in the log")
                }
            case .unknown, .notSent:
                break
            }
        }

        // 4. Definite outcomes re-sent with the same id must give the same answer again.
        for probe in probes {
            switch (probe.buy.outcome, probe.outcome) {
            case (.acknowledged(let first, _), .acknowledged(let again, _)) where first != again:
                problem("\(probe.buy.requestId): acknowledged as order \(first), re-sent it answers order \(again)")
            case (.acknowledged(let first, _), .refused(let code)):
                problem("\(probe.buy.requestId): acknowledged as order \(first), re-sent it is refused (\(code))")
            case (.refused(let code), .acknowledged(let order, _)):
                problem("\(probe.buy.requestId): refused (\(code)), re-sent it was executed as order \(order)")
            case (.refused(let first), .refused(let again)) where first != again:
                problem("\(probe.buy.requestId): refused (\(first)), re-sent it is refused (\(again))")
            default:
                break
            }
        }

        // 5. Stock arithmetic on every catalog replica: on hand = seed + restocks − ordered, nothing held,
        //    nothing negative; and each replica's committed buys and restocks are exactly the log's and ours.
        let confirmed = Set(restocks.filter(\.confirmed).map(\.opId))
        let issuedRestocks = Set(restocks.map(\.opId))
        for name in ChaosClusterState.catalogReplicas {
            guard let health = state.health[name] else {
                problem("\(name): no status")
                continue
            }
            if health.state != "ready" { problem("\(name): state \(health.state) at the end, not ready") }
            let stock = health.stock ?? []
            problems += Invariants.stockArithmetic(
                replica: name,
                seeds: seeds,
                restocked: ChaosClusterState.restocked(restocks),
                sold: ChaosClusterState.sold(reference),
                onHand: Dictionary(stock.map { ($0.item, $0.onHand) }, uniquingKeysWith: { a, _ in a }),
                held: Dictionary(stock.map { ($0.item, $0.held) }, uniquingKeysWith: { a, _ in a })
            )
            guard let snapshot = state.snapshots[name] else { continue }
            let committed = Dictionary(snapshot.committed.map { ($0.requestId, $0) }, uniquingKeysWith: { a, _ in a })
            problems += Invariants.commitsMatchLog(
                replica: name,
                committed: committed,
                folded: snapshot.folded,
                log: referenceById
            )
            // Folded restocks live on as per-item counts: compare copies, and the ids of the rest.
            let restockIds = Set(snapshot.restocks.map(\.opId))
            let foreign = restockIds.subtracting(issuedRestocks)
            let here = Invariants.totals(snapshot.restocks, item: \.item, count: \.count)
                .merging(snapshot.folded?.restocked ?? [:], uniquingKeysWith: +)
            let acknowledged = ChaosClusterState.restocked(restocks)
            if here.filter({ $0.value != 0 }) != acknowledged.filter({ $0.value != 0 }) {
                let lost = confirmed.subtracting(restockIds)
                problem(
                    "\(name): restocked copies \(here.sorted { $0.key < $1.key }) differ from the acknowledged "
                        + "\(acknowledged.sorted { $0.key < $1.key }) (not listed unfolded: \(list(Array(lost))))"
                )
            }
            if !foreign.isEmpty { problem("\(name): restocks nobody issued: \(list(Array(foreign)))") }
            if !snapshot.holds.isEmpty {
                problem("\(name): \(snapshot.holds.count) holds left: \(list(snapshot.holds.map(\.requestId)))")
            }
        }
        return problems
    }
}
