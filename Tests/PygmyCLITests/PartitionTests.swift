import Foundation
import NIOPosix
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Synchronization
import Testing

extension LiveProcessTests {
    /// Real processes, one network namespace per node, silent per-link drops (nftables) and a hung
    /// (SIGSTOPped) catalog replica, while concurrent buyers with unique request ids compete for a scarce
    /// book. After each scenario heals, the invariants are read from every replica's durable state: never
    /// oversold, every acknowledged buy in both order logs once, no refused buy ordered, no request id with
    /// two orders, no read after an acknowledged buy that misses it; and buys work again.
    ///
    /// While a catalog replica is silent (cut off or hung), buys answer `unavailable` until a majority
    /// of the voters has left it out of the membership (issue 13); a side without a majority never
    /// sells. The test asserts safety during every fault, availability after each heal, and, for the hung
    /// replica (a majority is reachable), definite answers again while it is still hung.
    @Suite(.serialized)
    struct PartitionTests {
        @Test(
            "Partitions and a hung catalog replica: never oversold, no acknowledged buy lost or doubled",
            .enabled(
                if: PartitionNetwork.unavailableReason == nil,
                "needs root, iproute2's `ip netns` and nftables' `nft` on Linux: \(PartitionNetwork.unavailableReason ?? "")"
            ),
            .timeLimit(.minutes(5))
        )
        func partitionsNeverOversell() async throws {
            let run = PartitionRun()
            try await withCleanup {
                do {
                    try await run.setUp()
                    try await run.exercise()
                } catch {
                    run.failed = true
                    throw error
                }
            } cleanup: {
                await run.tearDown()
            }
        }
    }
}

/// One buy as the client saw it, with its retries (same request id).
struct PartitionBuy: Sendable {
    enum Outcome: Sendable, Equatable {
        case acknowledged(order: Int, cost: Int)
        case refused(String)
        case unknown(String)
    }

    var requestId: String
    var item: ItemID
    var quantity: Int
    var scenario: String
    var outcome: Outcome
    var attempts: Int
    /// Seconds since the run started.
    var answeredAt: Double
    /// How long each attempt took, in seconds.
    var latencies: [Double] = []

    var isUnknown: Bool { if case .unknown = outcome { true } else { false } }

    static func classify(_ result: Result<BuyResponse, any Error>) -> Outcome {
        switch result {
        case .success(let response):
            return .acknowledged(order: response.order, cost: response.cost)
        case .failure(let error as RPCError):
            if let code = BookstoreError.Code(rawValue: error.code.rawValue) {
                switch code {
                case .outOfStock, .unknownItem, .invalidValue: return .refused("\(code)")
                default: return .unknown("\(code): \(error.message)")
                }
            }
            return .unknown("\(error.code): \(error.message)")
        case .failure(let error as TransportError):
            return .unknown("\(error.kind.rawValue)")
        case .failure(let error):
            return .unknown("\(type(of: error))")
        }
    }
}

/// What the clients did and saw, shared by the concurrent buyers.
final class PartitionLedger: Sendable {
    struct Restock: Sendable {
        var opId: String
        var item: ItemID
        var count: Int
        var sentAt: Double
        var confirmed: Bool
    }

    struct State {
        var buys: [String: PartitionBuy] = [:]
        var restocks: [String: Restock] = [:]
        var readViolations: [String] = []
        var lookups = 0
        var failedLookups = 0
        var unavailableNaming: [String: Int] = [:]
    }

    let state = Mutex(State())
    let started: ContinuousClock.Instant

    init(started: ContinuousClock.Instant) { self.started = started }

    var now: Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    func record(_ buy: PartitionBuy) {
        state.withLock { state in
            state.buys[buy.requestId] = buy
            if case .unknown(let reason) = buy.outcome, reason.hasPrefix("unavailable") {
                for name in ["catalog-1", "catalog-2", "order-1", "order-2"] where reason.contains(name) {
                    state.unavailableNaming[name, default: 0] += 1
                }
            }
        }
    }

    func restockSent(_ restock: Restock) { state.withLock { $0.restocks[restock.opId] = restock } }
    func restockConfirmed(_ opId: String) { state.withLock { $0.restocks[opId]?.confirmed = true } }

    var buys: [PartitionBuy] { state.withLock { Array($0.buys.values) } }
    var restocks: [Restock] { state.withLock { Array($0.restocks.values) } }

    /// A lookup of `item` sent at `sentAt` and answered at `answeredAt` with `stock`: it must not show more
    /// copies than the seed plus every restock sent before the answer, minus every buy acknowledged before
    /// the lookup was sent.
    func checkRead(item: ItemID, seed: Int, stock: Int, sentAt: Double, answeredAt: Double) {
        state.withLock { state in
            state.lookups += 1
            let restocked = state.restocks.values.filter { $0.item == item && $0.sentAt <= answeredAt }.map(\.count)
                .reduce(0, +)
            var sold = 0
            var acknowledged: [String] = []
            for buy in state.buys.values where buy.item == item && buy.answeredAt < sentAt {
                if case .acknowledged = buy.outcome {
                    sold += buy.quantity
                    acknowledged.append(buy.requestId)
                }
            }
            let bound = seed + restocked - sold
            if stock > bound {
                state.readViolations.append(
                    String(
                        format: "lookup of item %d sent at %.2fs answered %d copies, but at most %d can be left "
                            + "(seed %d + restocks %d − %d acknowledged before it)",
                        item,
                        sentAt,
                        stock,
                        bound,
                        seed,
                        restocked,
                        sold
                    )
                )
            }
        }
    }

    func lookupFailed() { state.withLock { $0.failedLookups += 1 } }
}

/// The durable state every replica reports when asked directly.
struct PartitionClusterState {
    var logs: [String: OrderLogSnapshot] = [:]
    var health: [String: NodeStatus] = [:]
    var snapshots: [String: CatalogSnapshot] = [:]
    var errors: [String] = []

    static let orderReplicas = ["order-1", "order-2"]
    static let catalogReplicas = ["catalog-1", "catalog-2"]

    /// Both logs equal, both catalogs ready with equal stock, nothing held.
    var converged: Bool {
        guard errors.isEmpty, let first = logs["order-1"], let second = logs["order-2"] else { return false }
        guard Set(first.orders) == Set(second.orders),
            Set(first.rejections.map(\.requestId)) == Set(second.rejections.map(\.requestId))
        else { return false }
        let stocks = Self.catalogReplicas.map { health[$0]?.stock ?? [] }
        guard
            Self.catalogReplicas.allSatisfy({ health[$0]?.state == "ready" && health[$0]?.peersDown.isEmpty == true }),
            stocks.allSatisfy({ $0 == stocks[0] && $0.allSatisfy { $0.held == 0 } }),
            Self.catalogReplicas.allSatisfy({ snapshots[$0]?.holds.isEmpty == true })
        else { return false }
        return true
    }

    var shortDescription: String {
        let orders = Self.orderReplicas.map { "\($0) \(logs[$0]?.orders.count ?? -1) orders" }
        let catalogs = Self.catalogReplicas.map { name in
            let stock = (health[name]?.stock ?? []).map { "\($0.item):\($0.onHand)/\($0.held)" }
            return "\(name) \(health[name]?.state ?? "?") [\(stock.joined(separator: " "))]"
        }
        return (orders + catalogs + errors).joined(separator: "; ")
    }
}

/// The state and the steps of one partition run.
final class PartitionRun: @unchecked Sendable {
    /// Node name → (host id, role, address). One node per namespace, all on the same port.
    static let layout: [(name: String, host: String, role: String, address: String)] = [
        ("frontend-1", "fe1", "frontend", "10.77.0.10"),
        ("frontend-2", "fe2", "frontend", "10.77.0.11"),
        ("catalog-1", "c1", "catalog", "10.77.0.21"),
        ("catalog-2", "c2", "catalog", "10.77.0.22"),
        ("order-1", "o1", "order", "10.77.0.31"),
        ("order-2", "o2", "order", "10.77.0.32"),
    ]
    static let clientHost = (id: "cl", address: "10.77.0.100")
    /// Every node listens on this port inside a network namespace of its own, made by this run (its
    /// name carries the test's pid) and deleted after it: nothing else can hold a port there, so a fixed
    /// number is safe, unlike on the host's loopback.
    static let port = 7000
    /// The seed stock (the original four books); item 1 is the scarce one the buyers fight over.
    static let seedStock = [1: 10, 2: 4, 3: 10, 4: 5]
    static let item: ItemID = 1
    /// Concurrent buyers; the odd ones are impatient (a 2 s deadline per call, then the same request id
    /// again), so re-sends meet attempts still running.
    static let buyers = 8

    let started = ContinuousClock.now
    /// Every wait of the run ends by then (the tear-down adds a few seconds).
    let budget: ContinuousClock.Instant
    let directory = PygmyProcess.temporaryDirectory("pygmy-partition-\(getpid())")
    let network = MultiHostNetwork(ip: MultiHostNetwork.ipExecutable ?? "/usr/sbin/ip")
    lazy var partition = PartitionNetwork(network: network)
    let ledger: PartitionLedger
    var nodes: [MultiHostNode] = []
    var failed = false
    var group: MultiThreadedEventLoopGroup?
    var frontends: [String: RPCClient] = [:]
    /// Problems already reported (the checks run after every scenario over the whole history).
    var reported: Set<String> = []
    var stopped: [pid_t] = []
    var summaries: [String] = []
    var buySerial = 0
    var restockSerial = 0

    init() {
        budget = started + .seconds(230)
        ledger = PartitionLedger(started: started)
    }

    func log(_ message: String) {
        print("[partition +\(String(format: "%5.1f", ledger.now))s] \(message)")
    }

    func check(
        _ condition: Bool,
        _ comment: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard !condition else { return }
        failed = true
        let text = comment()
        log("FAILED: \(text)")
        Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    func left(_ what: String) throws -> Duration {
        let left = budget - ContinuousClock.now
        guard left > .zero else { throw Failure("the run's budget is spent before \(what)") }
        return left
    }

    // MARK: Set-up

    func setUp() async throws {
        await network.removeStale()
        do {
            try await network.createSwitch()
            for node in Self.layout { try await network.addHost(node.host, address: node.address) }
            try await network.addHost(Self.clientHost.id, address: Self.clientHost.address)
            for node in Self.layout { try await partition.installFirewall(on: node.host) }
        } catch {
            try Test.cancel("cannot build the namespace network with nftables here: \(error)")
        }
        log("network: \(Self.layout.count + 1) namespaces on a bridge, an nftables drop set in each node's")
        try writeTopology()
        try MultiHostNode.startAll(Self.layout, on: network, directory: directory, into: &nodes)
        let group = try await NamespacedEventLoopGroup.make(namespace: network.hosts[Self.clientHost.id]!.namespace)
        self.group = group
        for node in Self.layout where node.role == "frontend" {
            frontends[node.name] = client(node.address, timeout: .seconds(12))
        }
        log("started \(nodes.count) nodes; the test's RPC clients run in the client namespace")
        let state = try await waitForConvergence(within: .seconds(40), "every node ready")
        log("cluster healthy: \(state.shortDescription)")
    }

    func client(_ address: String, timeout: Duration) -> RPCClient {
        var configuration = RPCClient.Configuration()
        configuration.defaultTimeout = timeout
        configuration.connectTimeout = .seconds(2)
        configuration.handshakeTimeout = .seconds(3)
        configuration.backoff.initial = .milliseconds(20)
        configuration.backoff.maximum = .milliseconds(200)
        return RPCClient(host: address, port: Self.port, configuration: configuration, group: group!)
    }

    func writeTopology() throws {
        let entries = Self.layout.map { node in
            let extra = node.role == "frontend" ? "" : #", "dataDir": "data/\#(node.name)""#
            return
                #"    {"name": "\#(node.name)", "role": "\#(node.role)", "host": "\#(node.address)", "port": \#(Self.port)\#(extra)}"#
        }
        let text = """
            // Written by PartitionTests: one node per network namespace, plaintext.
            {
              "heartbeatMillis": 200,
              "nodes": [
            \(entries.joined(separator: ",\n"))
              ]
            }

            """
        try text.write(toFile: "\(directory)/topology.json", atomically: true, encoding: .utf8)
    }

    // MARK: Reading the replicas

    func readState() async -> PartitionClusterState {
        var state = PartitionClusterState()
        for node in Self.layout where node.role != "frontend" {
            let client = self.client(node.address, timeout: .seconds(3))
            do {
                if node.role == "order" {
                    state.logs[node.name] = try await client.call(Order.List.self, OrdersRequest())
                } else {
                    state.health[node.name] = try await client.call(NodeMethods.Health.self, Empty())
                    state.snapshots[node.name] = try await client.call(Catalog.Snapshot.self, SnapshotRequest())
                }
            } catch {
                state.errors.append("\(node.name): \(error)")
            }
            await client.close()
        }
        return state
    }

    @discardableResult
    func waitForConvergence(within limit: Duration, _ what: String) async throws -> PartitionClusterState {
        let deadline = ContinuousClock.now + min(limit, try left(what))
        var state = PartitionClusterState()
        while ContinuousClock.now < deadline {
            if let dead = nodes.first(where: { !$0.isRunning }) {
                throw Failure("node \(dead.name) exited (status \(dead.process.terminationStatus)) waiting for \(what)")
            }
            state = await readState()
            if state.converged { return state }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw Failure("timed out after \(limit) waiting for \(what); last state: \(state.shortDescription)")
    }

    // MARK: The workload

    /// One buy with a fresh request id, re-sent with the same id while its outcome is unknown (at most
    /// `attempts` times, and not past `until`).
    func buy(
        through frontend: String,
        scenario: String,
        id: String,
        quantity: Int = 1,
        attempts: Int = 3,
        timeout: Duration? = nil,
        until: ContinuousClock.Instant? = nil
    ) async -> PartitionBuy {
        let client = frontends[frontend]!
        var buy = PartitionBuy(
            requestId: id,
            item: Self.item,
            quantity: quantity,
            scenario: scenario,
            outcome: .unknown("not sent"),
            attempts: 0,
            answeredAt: 0
        )
        while buy.attempts < attempts {
            buy.attempts += 1
            let sentAt = ledger.now
            let result: Result<BuyResponse, any Error>
            do {
                result = .success(
                    try await client.call(
                        Frontend.Buy.self,
                        BuyRequest(item: Self.item, quantity: quantity, requestId: id),
                        timeout: timeout
                    )
                )
            } catch {
                result = .failure(error)
            }
            if case .success(let response) = result,
                response.requestId != id || response.item != Self.item || response.quantity != quantity
            {
                check(false, "\(id): asked for item \(Self.item) × \(quantity), acknowledged \(response)")
            }
            buy.outcome = PartitionBuy.classify(result)
            buy.answeredAt = ledger.now
            buy.latencies.append(buy.answeredAt - sentAt)
            ledger.record(buy)
            guard buy.isUnknown else { break }
            if let until, ContinuousClock.now >= until { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return buy
    }

    func lookup(through frontend: String) async {
        let sentAt = ledger.now
        do {
            let book = try await frontends[frontend]!.call(
                Frontend.Lookup.self,
                LookupRequest(item: Self.item),
                timeout: .seconds(5)
            )
            ledger.checkRead(
                item: Self.item,
                seed: Self.seedStock[Self.item]!,
                stock: book.stock,
                sentAt: sentAt,
                answeredAt: ledger.now
            )
        } catch {
            ledger.lookupFailed()
        }
    }

    func restock(_ count: Int, attempts: Int = 1) async -> Bool {
        restockSerial += 1
        let opId = "partition-restock-\(restockSerial)"
        ledger.restockSent(.init(opId: opId, item: Self.item, count: count, sentAt: ledger.now, confirmed: false))
        return await resendRestock(opId, count: count, attempts: attempts)
    }

    func resendRestock(_ opId: String, count: Int, attempts: Int) async -> Bool {
        for attempt in 0..<attempts {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200)) }
            do {
                _ = try await frontends["frontend-1"]!.call(
                    Frontend.Restock.self,
                    RestockRequest(item: Self.item, count: count, opId: opId),
                    timeout: .seconds(6)
                )
                ledger.restockConfirmed(opId)
                return true
            } catch {}
        }
        return false
    }

    func nextId(_ scenario: String, _ buyer: Int) -> String {
        buySerial += 1
        return "part-\(scenario)-b\(buyer)-\(buySerial)"
    }

    /// `buyers` concurrent buyers (buyer i through `frontendFor(i)`), each buying and looking up until
    /// `deadline`; a restocker adds 3 copies every 2 s when `restocks` is set.
    func workload(
        _ scenario: String,
        until deadline: ContinuousClock.Instant,
        restocks: Bool,
        frontendFor: @escaping @Sendable (Int) -> String = { _ in "frontend-1" }
    ) async -> [PartitionBuy] {
        let ids = (0..<Self.buyers).map { buyer in (0..<400).map { _ in nextId(scenario, buyer) } }
        return await withTaskGroup(of: [PartitionBuy].self) { group in
            for buyer in 0..<Self.buyers {
                group.addTask {
                    var n = 0
                    var mine: [PartitionBuy] = []
                    while ContinuousClock.now < deadline, n < ids[buyer].count {
                        let frontend = frontendFor(buyer)
                        let quantity = (buyer + n) % 4 == 0 ? 2 : 1
                        let buy = await self.buy(
                            through: frontend,
                            scenario: scenario,
                            id: ids[buyer][n],
                            quantity: quantity,
                            attempts: buyer % 2 == 1 ? 6 : 3,
                            timeout: buyer % 2 == 1 ? .seconds(2) : nil,
                            until: deadline
                        )
                        mine.append(buy)
                        await self.lookup(through: frontend)
                        n += 1
                        try? await Task.sleep(for: .milliseconds(30))
                    }
                    return mine
                }
            }
            if restocks {
                group.addTask {
                    while ContinuousClock.now + .seconds(2) < deadline {
                        try? await Task.sleep(for: .seconds(2))
                        _ = await self.restock(3)
                    }
                    return []
                }
            }
            var all: [PartitionBuy] = []
            for await buys in group { all += buys }
            return all
        }
    }

    // MARK: Faults

    var hostOf: [String: String] { Dictionary(uniqueKeysWithValues: Self.layout.map { ($0.name, $0.host) }) }

    /// Every pair with one side in `a` and the other in `b` (node names).
    func between(_ a: [String], _ b: [String]) -> [(String, String)] {
        a.flatMap { x in b.map { y in (hostOf[x]!, hostOf[y]!) } }
    }

    func isolate(_ name: String) -> [(String, String)] {
        between([name], Self.layout.map(\.name).filter { $0 != name })
    }

    func cut(_ pairs: [(String, String)], _ what: String) async throws {
        try await partition.setCuts(pairs)
        log("cuts: \(what) (\(partition.cuts.sorted().joined(separator: " ")))")
    }

    func stop(_ name: String) async throws {
        let namespace = network.hosts[hostOf[name]!]!.namespace
        let pids = try await network.ipCommand(["netns", "pids", namespace]).split(separator: "\n").compactMap {
            pid_t($0.trimmingCharacters(in: .whitespaces))
        }
        for pid in pids where kill(pid, SIGSTOP) == 0 { stopped.append(pid) }
        log("SIGSTOP \(name) (pids \(pids))")
    }

    func resumeStopped() {
        for pid in stopped { kill(pid, SIGCONT) }
        if !stopped.isEmpty { log("SIGCONT \(stopped)") }
        stopped.removeAll()
    }

    // MARK: The scenarios

    func exercise() async throws {
        let splitLeft = ["order-1", "catalog-1"]
        let splitRight = ["order-2", "catalog-2"]
        try await scenario("split", restocks: true) { end in
            try await self.cut(self.between(splitLeft, splitRight), "{order-1, catalog-1} | {order-2, catalog-2}")
            try await self.sleep(until: end)
        }
        try await scenario(
            "split-two-frontends",
            restocks: false,
            frontendFor: { $0 % 2 == 0 ? "frontend-1" : "frontend-2" }
        ) {
            end in
            try await self.cut(
                self.between(splitLeft + ["frontend-1"], splitRight + ["frontend-2"]),
                "{frontend-1, order-1, catalog-1} | {frontend-2, order-2, catalog-2}"
            )
            try await self.sleep(until: end)
        }
        try await scenario("crossed", restocks: true) { end in
            try await self.cut(
                self.between(["order-1"], ["catalog-2"]) + self.between(["order-2"], ["catalog-1"]),
                "crossed"
            )
            try await self.sleep(until: end)
        }
        try await scenario("isolate-one-then-other", seconds: 8, restocks: false) { end in
            try await self.cut(self.isolate("catalog-1"), "catalog-1 isolated")
            try await Task.sleep(for: .seconds(4))
            try await self.cut(self.isolate("catalog-2"), "catalog-1 healed, catalog-2 isolated")
            try await self.sleep(until: end)
        }
        try await scenario("flapping", seconds: 10, restocks: true) { end in
            var random = SplitMix(seed: 20_251_126)
            let shapes: [(String, [(String, String)])] = [
                ("split", self.between(splitLeft, splitRight)),
                ("crossed", self.between(["order-1"], ["catalog-2"]) + self.between(["order-2"], ["catalog-1"])),
                ("catalog-1 isolated", self.isolate("catalog-1")),
                ("catalog-2 isolated", self.isolate("catalog-2")),
                ("order-1 isolated", self.isolate("order-1")),
                ("healed", []),
            ]
            while ContinuousClock.now < end {
                let shape = shapes[Int(random.next() % UInt64(shapes.count))]
                try await self.cut(shape.1, shape.0)
                let pause = 1000 + Int(random.next() % 2000)
                try await Task.sleep(for: min(.milliseconds(pause), max(.zero, end - .now)))
            }
        }
        try await scenario("hung-catalog", seconds: 7, restocks: true, definiteAnswersAfter: 4) { end in
            try await self.stop("catalog-1")
            try await self.sleep(until: end)
        }
        log("summary:\n" + summaries.joined(separator: "\n"))
    }

    func sleep(until end: ContinuousClock.Instant) async throws {
        let wait = end - .now
        if wait > .zero { try await Task.sleep(for: wait) }
    }

    /// Runs `faults` (which returns by `end`) while the buyers buy, heals, settles, re-sends unknown
    /// outcomes, tops the stock up, checks that buys work again and checks every invariant.
    func scenario(
        _ name: String,
        seconds: Int = 7,
        restocks: Bool,
        frontendFor: @escaping @Sendable (Int) -> String = { _ in "frontend-1" },
        definiteAnswersAfter: Double? = nil,
        faults: @escaping @Sendable (ContinuousClock.Instant) async throws -> Void
    ) async throws {
        _ = try left(name)
        let begin = ContinuousClock.now
        let beganAt = ledger.now
        let end = begin + .seconds(seconds)
        log("== scenario \(name)")
        let faultTask = Task { try await faults(end) }
        let buys = await workload(name, until: end, restocks: restocks, frontendFor: frontendFor)
        let faultResult = await faultTask.result
        resumeStopped()
        try await partition.healAll()
        log("healed; buys running during the faults: \(describe(buys))")
        let reasons = Set(
            buys.compactMap { buy -> String? in
                guard case .unknown(let reason) = buy.outcome, reason.hasPrefix("unavailable") else { return nil }
                return reason
            }
        )
        for reason in reasons.sorted().prefix(2) { log("  e.g. \(reason)") }
        if case .failure(let error) = faultResult { throw error }
        if let definiteAnswersAfter {
            // A majority can leave the silent replica out: buys must be decided (sold or refused for
            // stock) again while the fault lasts, not only after the heal.
            let late = buys.filter { $0.answeredAt >= beganAt + definiteAnswersAfter }
            check(
                late.contains { !$0.isUnknown },
                "\(name): no buy answered \(definiteAnswersAfter) s or more into the fault was decided "
                    + "(a majority should have left the silent replica out): \(describe(late))"
            )
        }

        // Settle, then the unknown outcomes again with their request ids: after the heal they resolve.
        try await waitForConvergence(within: .seconds(30), "convergence after \(name)")
        for restock in ledger.restocks where !restock.confirmed {
            let ok = await resendRestock(restock.opId, count: restock.count, attempts: 20)
            check(ok, "\(name): restock \(restock.opId) still unconfirmed after the heal")
        }
        let unknown = ledger.buys.filter(\.isUnknown)
        var resolved: [PartitionBuy] = []
        await withTaskGroup(of: PartitionBuy.self) { group in
            for buy in unknown {
                group.addTask {
                    await self.buy(
                        through: "frontend-1",
                        scenario: buy.scenario,
                        id: buy.requestId,
                        quantity: buy.quantity,
                        attempts: 15
                    )
                }
            }
            for await buy in group { resolved.append(buy) }
        }
        let stillUnknown = resolved.filter(\.isUnknown)
        check(
            stillUnknown.isEmpty,
            "\(name): \(stillUnknown.count) buys still without an outcome after the heal: "
                + stillUnknown.prefix(3).map { "\($0.requestId) \($0.outcome)" }.joined(separator: ", ")
        )
        if !unknown.isEmpty { log("re-sent \(unknown.count) unknown buys after the heal: \(describe(resolved))") }

        // Buys work again: top item 1 up to 10 copies and buy two.
        var state = try await waitForConvergence(within: .seconds(30), "convergence after the re-sends")
        let onHand = state.health["catalog-1"]?.stock?.first { $0.item == Self.item }?.onHand ?? 0
        if onHand < 10 {
            let ok = await restock(10 - max(onHand, 0), attempts: 20)
            check(ok, "\(name): a restock after the heal failed")
            // The frontend applies a restock at the catalog replicas it believes up and answers after the
            // first success; one it still believes down gets it by anti-entropy. Wait for that, or a buy
            // holding there is refused as out of stock.
            try await waitForConvergence(within: .seconds(30), "the restock at every catalog replica")
        }
        for index in 1...2 {
            let begin = ContinuousClock.now
            let buy = await buy(through: "frontend-1", scenario: name, id: "part-\(name)-after-\(index)", attempts: 1)
            var acknowledged = false
            if case .acknowledged = buy.outcome { acknowledged = true }
            check(acknowledged, "\(name): a buy after the heal was not acknowledged: \(buy.outcome)")
            log("buy after the heal: \(buy.outcome) in \(ContinuousClock.now - begin)")
        }
        state = try await waitForConvergence(within: .seconds(30), "convergence after \(name)'s last buys")
        checkInvariants(after: name, state)
        let seconds = Double((ContinuousClock.now - begin).components.seconds)
        summaries.append("  \(name): \(describe(buys)); \(seconds) s; state \(state.shortDescription)")
    }

    func describe(_ buys: [PartitionBuy]) -> String {
        var counts: [String: Int] = [:]
        for buy in buys {
            switch buy.outcome {
            case .acknowledged: counts["acknowledged", default: 0] += 1
            case .refused(let code): counts[code, default: 0] += 1
            case .unknown(let reason):
                let code = reason.split(separator: ":").first.map(String.init) ?? reason
                counts["unknown (\(code))", default: 0] += 1
            }
        }
        let latencies = buys.flatMap(\.latencies).sorted()
        let timing =
            latencies.isEmpty
            ? ""
            : String(
                format: " (%d attempts, %.2f s median, %.2f s max)",
                latencies.count,
                latencies[latencies.count / 2],
                latencies.last!
            )
        return "\(buys.count) buys: "
            + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            .joined(separator: ", ") + timing
    }

    // MARK: The invariants

    func checkInvariants(after scenario: String, _ state: PartitionClusterState) {
        var problems: [String] = []
        for error in state.errors { problems.append("could not read: \(error)") }
        let names = PartitionClusterState.orderReplicas
        // 1. Each order log: one order per request id, order numbers unique, nothing both ordered and refused.
        for name in names {
            let orders = state.logs[name]?.orders ?? []
            for (id, records) in Dictionary(grouping: orders, by: \.requestId) where records.count > 1 {
                problems.append("\(name): request id \(id) has \(records.count) orders: \(records.map(\.order))")
            }
            for (number, records) in Dictionary(grouping: orders, by: \.order) where records.count > 1 {
                problems.append("\(name): order number \(number) used \(records.count) times")
            }
            let both = Set(orders.map(\.requestId)).intersection((state.logs[name]?.rejections ?? []).map(\.requestId))
            for id in both.sorted() { problems.append("\(name): \(id) is both ordered and refused") }
        }
        // 2. The two logs agree on every request id.
        let first = Dictionary((state.logs[names[0]]?.orders ?? []).map { ($0.requestId, $0) }) { a, _ in a }
        let second = Dictionary((state.logs[names[1]]?.orders ?? []).map { ($0.requestId, $0) }) { a, _ in a }
        for id in Set(first.keys).union(second.keys).sorted() {
            switch (first[id], second[id]) {
            case (let a?, let b?) where a != b:
                problems.append(
                    "\(id) is order \(a.order) by \(a.coordinator) at order-1 but order \(b.order) by \(b.coordinator) at order-2"
                )
            case (nil, let b?): problems.append("\(id) (order \(b.order)) only at order-2")
            case (let a?, nil): problems.append("\(id) (order \(a.order)) only at order-1")
            default: break
            }
        }
        // 3. The logs against what the clients were told.
        let issued = Dictionary(ledger.buys.map { ($0.requestId, $0) }) { a, _ in a }
        var union = second
        union.merge(first) { a, _ in a }
        for (id, record) in union where issued[id] == nil {
            problems.append("order \(record.order) (\(id)): no client asked")
        }
        for buy in issued.values {
            switch buy.outcome {
            case .acknowledged(let order, let cost):
                for name in names {
                    let records = (state.logs[name]?.orders ?? []).filter { $0.requestId == buy.requestId }
                    if records.count != 1 {
                        problems.append(
                            "\(buy.requestId) (acknowledged as order \(order)) is \(records.count) times at \(name)"
                        )
                    } else if records[0].order != order || records[0].total != cost
                        || records[0].quantity != buy.quantity || records[0].item != buy.item
                    {
                        problems.append(
                            "\(buy.requestId): told order \(order) for \(cost), \(name) has order \(records[0].order) for \(records[0].total)"
                        )
                    }
                }
            case .refused(let code):
                if let record = union[buy.requestId] {
                    problems.append("\(buy.requestId) was refused (\(code)) to the client but is order \(record.order)")
                }
            case .unknown:
                break
            }
        }
        // 4. Stock: seed + restocks − ordered, the same at both catalogs, never negative, nothing held.
        let confirmed = Set(ledger.restocks.filter(\.confirmed).map(\.opId))
        var stocks: [String: [Int: Int]] = [:]
        for name in PartitionClusterState.catalogReplicas {
            guard let health = state.health[name], let snapshot = state.snapshots[name] else { continue }
            if health.state != "ready" { problems.append("\(name) is \(health.state), not ready") }
            // Restocks stamped before the fold horizon are counted in `folded.restocked`, not listed.
            let restocked = Dictionary(grouping: snapshot.restocks, by: \.item).mapValues {
                $0.map(\.count).reduce(0, +)
            }
            .merging(snapshot.folded?.restocked ?? [:], uniquingKeysWith: +)
            let acknowledged = Dictionary(grouping: ledger.restocks.filter(\.confirmed), by: \.item).mapValues {
                $0.map(\.count).reduce(0, +)
            }
            if restocked.filter({ $0.value != 0 }) != acknowledged.filter({ $0.value != 0 }) {
                let unlisted = confirmed.subtracting(snapshot.restocks.map(\.opId)).sorted()
                problems.append(
                    "\(name): restocked copies \(restocked) differ from the acknowledged restocks' \(acknowledged) "
                        + "(acknowledged, not listed unfolded: \(unlisted))"
                )
            }
            let committed = Set(snapshot.committed.map(\.requestId))
            // Commits decided before the replica's fold horizon are counted in `folded`, not listed.
            let foldedBefore = snapshot.folded?.before ?? 0
            let listed = Set(union.values.filter { $0.timeMicros >= foldedBefore }.map(\.requestId))
            for id in listed.subtracting(committed).sorted() {
                problems.append("\(name): order \(id) never committed here")
            }
            let foldedSold = Dictionary(grouping: union.values.filter { $0.timeMicros < foldedBefore }, by: \.item)
                .mapValues { $0.map(\.quantity).reduce(0, +) }
            if foldedSold.filter({ $0.value != 0 }) != (snapshot.folded?.sold ?? [:]).filter({ $0.value != 0 }) {
                problems.append(
                    "\(name): folded counts \(snapshot.folded?.sold ?? [:]) differ from the logs' \(foldedSold)"
                )
            }
            for id in committed.subtracting(union.keys).sorted() {
                problems.append("\(name): committed \(id) is in no order log")
            }
            for (item, seed) in Self.seedStock.sorted(by: { $0.key < $1.key }) {
                let ordered = union.values.filter { $0.item == item }.map(\.quantity).reduce(0, +)
                let expected = seed + restocked[item, default: 0] - ordered
                let line = health.stock?.first { $0.item == item }
                stocks[name, default: [:]][item] = line?.onHand
                if expected < 0 {
                    problems.append(
                        "OVERSOLD item \(item) by \(-expected): seed \(seed) + restocks \(restocked[item, default: 0]) − ordered \(ordered) (\(name)'s restocks)"
                    )
                }
                if line?.onHand != expected {
                    problems.append(
                        "\(name) item \(item): \(line.map { String($0.onHand) } ?? "no") copies on hand, expected \(expected)"
                    )
                }
                if let line, line.onHand < 0 { problems.append("\(name) item \(item): negative stock \(line.onHand)") }
                if let line, line.held != 0 { problems.append("\(name) item \(item): \(line.held) copies held") }
            }
        }
        if stocks["catalog-1"] != stocks["catalog-2"] {
            problems.append("catalogs differ: \(stocks["catalog-1"] ?? [:]) vs \(stocks["catalog-2"] ?? [:])")
        }
        // 5. Reads.
        problems += ledger.state.withLock { $0.readViolations }

        let new = problems.filter { !reported.contains($0) }
        reported.formUnion(new)
        for problem in new { check(false, "after \(scenario): \(problem)") }
        let reads = ledger.state.withLock { ($0.lookups, $0.failedLookups) }
        log(
            "invariants after \(scenario): \(new.isEmpty ? "ok" : "\(new.count) new problems"); "
                + "\(union.count) orders in each log, \(reads.0) lookups checked (\(reads.1) failed)"
        )
    }

    // MARK: Tear-down

    func tearDown() async {
        resumeStopped()
        for client in frontends.values { await client.close() }
        await MultiHostNode.stopAll(nodes, label: "partition", printLogs: failed, network: network)
        try? await group?.shutdownGracefully()
        let left = await network.destroy()
        if !left.isEmpty { Issue.record("namespaces left behind: \(left)") }
        try? FileManager.default.removeItem(atPath: directory)
        log("torn down: processes stopped, namespaces and \(directory) removed")
    }
}

/// A small deterministic generator for the flapping schedule.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
