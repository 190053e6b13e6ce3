import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Synchronization

/// The settings of one chaos run (see `pygmy chaos --help`).
public struct ChaosConfiguration: Sendable {
    /// Every random choice of the run (clients, fault loop, probes) derives from it.
    public var seed: UInt64
    /// Seconds of clients and faults.
    public var duration: Double
    /// Concurrent clients.
    public var clients: Int
    /// Fraction of client operations that are buys (the rest are lookups).
    public var buyRatio = 0.7
    /// Fraction of operations on an item that does not exist.
    public var unknownItemRatio = 0.02
    public var maxQuantity = 3
    /// Seconds between restock rounds.
    public var restockInterval = 0.25
    /// Each round restocks every item with fewer copies than this, by this many.
    public var restockCount = 25
    /// Seconds between a kill and the restart.
    public var down: ClosedRange<Double> = 0.2...3.0
    /// Seconds before the next kill.
    public var gap: ClosedRange<Double> = 0.3...2.0
    /// Whether to kill nodes at all.
    public var faults = true
    /// Whether both replicas of one kind may be down at once.
    public var allowDoubleFaults = false
    public var killFrontend = false
    /// Client timeout per request, in seconds.
    public var requestTimeout = 20.0
    /// Seconds a restarted node may take to report ready.
    public var recoveryTimeout = 30.0
    /// Seconds to wait for the replicas to converge at the end.
    public var settleTimeout = 30.0
    public var sampleInterval = 0.25
    /// Definite outcomes re-sent at the end to check they answer the same.
    public var probes = 200

    /// The defaults, for a run of `duration` seconds with `clients` clients.
    public init(seed: UInt64, duration: Double, clients: Int) {
        self.seed = seed
        self.duration = duration
        self.clients = clients
    }
}

/// Drives a local cluster of real `pygmy node` processes: clients buying and looking up, a restocker,
/// a fault loop that SIGKILLs and restarts replicas, a sampler that watches stock and log sizes; then
/// stops the faults, lets the cluster settle, re-sends the buys whose outcome is unknown and checks
/// every invariant against the replicas' durable state.
public struct ChaosRunner: Sendable {
    let cluster: LocalCluster
    let configuration: ChaosConfiguration
    let ledger: ChaosLedger
    let seeds: [CatalogSeed]

    /// A run against `cluster`, whose nodes have been started (the run waits until they are healthy), with
    /// the catalog's seed books `seeds`, recording into `ledger`.
    public init(cluster: LocalCluster, configuration: ChaosConfiguration, ledger: ChaosLedger, seeds: [CatalogSeed]) {
        self.cluster = cluster
        self.configuration = configuration
        self.ledger = ledger
        self.seeds = seeds
    }

    var replicas: [String] {
        ChaosClusterState.catalogReplicas + ChaosClusterState.orderReplicas
            + (configuration.killFrontend ? ["frontend"] : [])
    }

    /// Runs the whole experiment and returns the summary (anomalies included).
    /// - Throws: if the cluster is not healthy at the start or a node cannot be restarted at the end.
    public func run() async throws -> ChaosSummary {
        let admin = try cluster.client(certificateRole: "admin", timeout: .seconds(10))
        defer { Task { await admin.close() } }
        try await waitUntilHealthy()
        ledger.say(String(format: "  t=%6.1fs  cluster healthy; chaos starts", ledger.now))

        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(configuration.duration * 1000))
        let stopSampler = ChaosFlag()
        let sampler = Task { await sample(until: stopSampler) }
        let faultLoop = Task { await injectFaults(until: deadline) }
        let restocker = Task { await restock(admin: admin, until: deadline) }
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<configuration.clients {
                group.addTask { await client(index, until: deadline) }
            }
        }
        await restocker.value
        ledger.say(String(format: "  t=%6.1fs  clients done; waiting for outstanding faults to recover", ledger.now))
        await faultLoop.value
        stopSampler.set()
        await sampler.value
        let runSeconds = (ContinuousClock.now - start).seconds

        // Settle: every node running and ready, restocks confirmed, replicas converged.
        try await ensureRunning()
        await confirmRestocks(admin: admin)
        _ = await settle("after the faults")

        // Unknown outcomes: re-send each once with the same request id.
        let unknown = ledger.buys.filter(\.outcome.isUnknown)
        let retries = await resend(unknown)
        if !unknown.isEmpty {
            let resolved = retries.filter { !$0.outcome.isUnknown }.count
            ledger.say(
                String(
                    format: "  t=%6.1fs  re-sent %d unknown buys (%d now definite)",
                    ledger.now,
                    unknown.count,
                    resolved
                )
            )
        }
        // Idempotency probes: definite outcomes re-sent must answer the same.
        var rng = SeededRandom.stream(configuration.seed, 7)
        let definite = ledger.buys.filter { $0.outcome.isAcknowledged || $0.outcome.refusal != nil }
        let probeSet = Array(
            definite.sorted { $0.requestId < $1.requestId }.shuffled(using: &rng).prefix(configuration.probes)
        )
        let probes = await resend(probeSet)
        let state = await settle("after the retries")

        var anomalies = ledger.anomalies
        anomalies += ChaosCheck.run(
            state: state,
            buys: ledger.buys,
            retries: retries,
            probes: probes,
            restocks: ledger.restocks,
            seeds: seeds
        )
        let stuck = ledger.stuck
        if !stuck.isEmpty {
            let calls = stuck.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            anomalies.append(
                "\(stuck.values.reduce(0, +)) RPC calls were lost: no answer, no error, and their deadline never fired (\(calls))"
            )
        }
        let unresolvedRestocks = ledger.restocks.filter { !$0.confirmed }
        if !unresolvedRestocks.isEmpty {
            anomalies.append(
                "\(unresolvedRestocks.count) restocks never confirmed, stock arithmetic is unreliable: "
                    + unresolvedRestocks.prefix(5).map(\.opId).joined(separator: ", ")
            )
        }
        return ChaosSummary(
            configuration: configuration,
            runSeconds: runSeconds,
            ledger: ledger,
            retries: retries,
            probes: probes,
            state: state,
            anomalies: anomalies,
            directory: cluster.directory
        )
    }

    // MARK: Clients

    /// One client: buys (mostly) and lookups of random books until the deadline, one at a time.
    private func client(_ index: Int, until deadline: ContinuousClock.Instant) async {
        var rng = SeededRandom.stream(configuration.seed, 100 + UInt64(index))
        let timeout = Duration.milliseconds(Int64(configuration.requestTimeout * 1000))
        guard let client = try? cluster.client(timeout: timeout) else {
            ledger.anomaly("client \(index) could not be created")
            return
        }
        let items = seeds.map(\.item)
        var n = 0
        while ContinuousClock.now < deadline {
            n += 1
            let buy = rng.chance(configuration.buyRatio)
            let unknownItem = rng.chance(configuration.unknownItemRatio)
            var item = items.randomElement(using: &rng)!
            if unknownItem { item = 9000 + Int.random(in: 1...99, using: &rng) }
            let quantity = rng.chance(0.75) ? 1 : Int.random(in: 1...configuration.maxQuantity, using: &rng)
            if buy {
                let id = "chaos-\(configuration.seed)-c\(index)-\(n)"
                let sent = ledger.now
                let result: Result<BuyResponse, any Error>
                do {
                    result = .success(
                        try await client.chaosCall(
                            Frontend.Buy.self,
                            BuyRequest(item: item, quantity: quantity, requestId: id),
                            timeout: timeout
                        )
                    )
                } catch {
                    result = .failure(error)
                    if let stuck = error as? ChaosStuckCall { ledger.stuck(stuck, on: "frontend") }
                }
                if case .success(let response) = result,
                    response.requestId != id || response.item != item || response.quantity != quantity
                {
                    ledger.anomaly(
                        "\(id): asked for item \(item) × \(quantity), acknowledged \(response.requestId) item \(response.item) × \(response.quantity)"
                    )
                }
                if case .failure(let error) = result, unknownItem == false,
                    ChaosOutcome.classify(result).refusal == .unknownItem
                {
                    ledger.anomaly("\(id): item \(item) exists but the buy was refused as unknown: \(error)")
                }
                if case .success = result, unknownItem {
                    ledger.anomaly("\(id): item \(item) does not exist but the buy was acknowledged")
                }
                let outcome = ChaosOutcome.classify(result)
                if outcome.isNotSent { try? await Task.sleep(for: .milliseconds(20)) }  // the frontend is down
                ledger.record(
                    ChaosBuy(
                        requestId: id,
                        client: index,
                        item: item,
                        quantity: quantity,
                        outcome: outcome,
                        sentAt: sent,
                        answeredAt: ledger.now
                    )
                )
            } else {
                do {
                    let book = try await client.chaosCall(
                        Frontend.Lookup.self,
                        LookupRequest(item: item),
                        timeout: timeout
                    )
                    ledger.lookup(ok: true)
                    if book.stock < 0 { ledger.anomaly("lookup of item \(item) returned negative stock \(book.stock)") }
                } catch {
                    ledger.lookup(ok: false)
                    if let stuck = error as? ChaosStuckCall { ledger.stuck(stuck, on: "frontend") }
                    if error is TransportError { try? await Task.sleep(for: .milliseconds(20)) }
                }
            }
        }
        await client.close()
    }

    // MARK: Restocks

    /// Every `restockInterval`, restocks each item whose stock (as a lookup through the frontend shows it)
    /// is below `restockCount`, by `restockCount` copies with a fresh op id: stock runs out now and then
    /// (out-of-stock refusals) but never for long.
    private func restock(admin: RPCClient, until deadline: ContinuousClock.Instant) async {
        var round = 0
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(Int64(configuration.restockInterval * 1000)))
            guard ContinuousClock.now < deadline else { break }
            round += 1
            for seed in seeds {
                guard
                    let book = try? await admin.chaosCall(
                        Frontend.Lookup.self,
                        LookupRequest(item: seed.item),
                        timeout: .seconds(2)
                    ),
                    book.stock < configuration.restockCount
                else { continue }
                let op = "chaos-\(configuration.seed)-restock-\(round)-\(seed.item)"
                ledger.record(
                    ChaosRestock(opId: op, item: seed.item, count: configuration.restockCount, confirmed: false)
                )
                let request = RestockRequest(item: seed.item, count: configuration.restockCount, opId: op)
                do {
                    _ = try await admin.chaosCall(Frontend.Restock.self, request, timeout: .seconds(5))
                    ledger.confirmRestock(op)
                } catch let stuck as ChaosStuckCall {
                    ledger.stuck(stuck, on: "frontend")
                } catch {}
            }
        }
    }

    /// Re-sends every restock whose outcome is unknown (same op id: applied at most once) until confirmed.
    private func confirmRestocks(admin: RPCClient) async {
        let pending = ledger.restocks.filter { !$0.confirmed }
        guard !pending.isEmpty else { return }
        let deadline = ContinuousClock.now + .seconds(20)
        for restock in pending {
            while ContinuousClock.now < deadline {
                let request = RestockRequest(item: restock.item, count: restock.count, opId: restock.opId)
                do {
                    _ = try await admin.chaosCall(Frontend.Restock.self, request, timeout: .seconds(5))
                    ledger.confirmRestock(restock.opId)
                    break
                } catch let stuck as ChaosStuckCall {
                    ledger.stuck(stuck, on: "frontend")
                } catch {}
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        ledger.say(
            String(format: "  t=%6.1fs  re-sent %d unconfirmed restocks with their op ids", ledger.now, pending.count)
        )
    }

    // MARK: Faults

    /// Until the deadline: wait a random gap, SIGKILL a random replica that is not already down (and,
    /// unless double faults are allowed, whose twin is not down either), restart it after a random pause
    /// and time its recovery. Faults overlap when they hit different kinds of replica.
    private func injectFaults(until deadline: ContinuousClock.Instant) async {
        guard configuration.faults else { return }
        var rng = SeededRandom.stream(configuration.seed, 1)
        await withTaskGroup(of: Void.self) { group in
            while ContinuousClock.now < deadline {
                let gap = rng.uniform(configuration.gap)
                let pause = rng.uniform(configuration.down)
                let pick = UInt64.random(in: 0...UInt64(UInt32.max), using: &rng)
                try? await Task.sleep(for: .milliseconds(Int64(gap * 1000)))
                guard ContinuousClock.now < deadline else { break }
                let busy = ledger.currentlyDown
                let candidates = replicas.filter { name in
                    !busy.contains(name)
                        && (configuration.allowDoubleFaults || !busy.contains { Self.kind($0) == Self.kind(name) })
                }
                guard !candidates.isEmpty else { continue }
                let victim = candidates[Int(pick % UInt64(candidates.count))]
                ledger.markDown(victim)
                group.addTask { await fault(victim, pause: pause) }
            }
        }
    }

    static func kind(_ name: String) -> String { String(name.prefix { $0 != "-" }) }

    /// Keeps the log of the process that was killed: `LocalCluster.start` truncates `logs/NAME.log`.
    /// The killed incarnations' logs are `logs/NAME.log.1`, `logs/NAME.log.2`, … in order.
    private func archiveLog(_ name: String) {
        let fm = FileManager.default
        let path = cluster.path("logs", "\(name).log")
        guard fm.fileExists(atPath: path) else { return }
        var n = 1
        while fm.fileExists(atPath: "\(path).\(n)") { n += 1 }
        try? fm.moveItem(atPath: path, toPath: "\(path).\(n)")
    }

    /// One crash: SIGKILL, pause, restart, wait until the node reports `ready`.
    private func fault(_ name: String, pause: Double) async {
        let index = ledger.faultStarted(ChaosFault(node: name, killedAt: ledger.now))
        do {
            try await cluster.crash(name)
        } catch {
            ledger.updateFault(index) { $0.error = "kill failed: \(error)" }
            ledger.anomaly("\(name) was not running when the fault loop tried to kill it")
        }
        ledger.say(String(format: "  t=%6.1fs  ✗ kill %@ (restart in %.1fs)", ledger.now, name, pause))
        try? await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
        archiveLog(name)
        do {
            try cluster.start(name)
        } catch {
            ledger.updateFault(index) { $0.error = "restart failed: \(error)" }
            ledger.anomaly("could not restart \(name): \(error)")
            ledger.markRecovered(name)
            return
        }
        ledger.updateFault(index) { $0.restartedAt = ledger.now }
        let ready = await waitUntilReady(name, timeout: configuration.recoveryTimeout)
        if ready {
            let now = ledger.now
            ledger.updateFault(index) { $0.readyAt = now }
            let fault = ledger.faults[index]
            ledger.say(
                String(
                    format: "  t=%6.1fs  ✓ %@ ready (kill→ready %.2fs, restart→ready %.2fs)",
                    now,
                    name,
                    fault.recoverySeconds ?? 0,
                    fault.resyncSeconds ?? 0
                )
            )
        } else {
            ledger.updateFault(index) { $0.error = "not ready after \(configuration.recoveryTimeout)s" }
            ledger.anomaly(
                "\(name) did not report ready within \(configuration.recoveryTimeout)s of its restart (see \(cluster.path("logs", "\(name).log")))"
            )
        }
        ledger.markRecovered(name)
    }

    /// Polls the node's own health until its state is `ready`.
    private func waitUntilReady(_ name: String, timeout: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        guard let probe = try? cluster.client(name, timeout: .milliseconds(500)) else { return false }
        defer { Task { await probe.close() } }
        while ContinuousClock.now < deadline {
            if let status = try? await probe.chaosCall(NodeMethods.Health.self, Empty(), timeout: .milliseconds(500)),
                status.state == "ready"
            {
                return true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    // MARK: Sampling

    /// Watches the replicas while the run goes on: stock never negative on a ready catalog replica, and
    /// an order replica's log never shrinks (not even across a crash: it is durable).
    private func sample(until stop: ChaosFlag) async {
        var largestLog: [String: Int] = [:]
        while !stop.isSet {
            for name in ChaosClusterState.catalogReplicas + ChaosClusterState.orderReplicas {
                // A fresh connection each time: the sampler is an instrument, it must not depend on how the
                // RPC client copes with a connection whose server was just killed.
                guard
                    let status = try? await cluster.withNodeClient(
                        name,
                        timeout: .milliseconds(500),
                        {
                            try await $0.chaosCall(NodeMethods.Health.self, Empty(), timeout: .milliseconds(500))
                        }
                    )
                else { continue }
                ledger.sampled()
                for line in status.stock ?? [] where line.onHand < 0 || line.held < 0 {
                    if status.state == "ready" || line.held < 0 {
                        ledger.anomaly(
                            "\(name) reported item \(line.item) with \(line.onHand) on hand, \(line.held) held while \(status.state) (negative stock)"
                        )
                    } else {
                        ledger.negativeWhileNotServing(name, line.onHand)
                    }
                }
                if let count = status.orderCount {
                    if let largest = largestLog[name], count < largest {
                        ledger.anomaly(
                            "\(name)'s order log shrank from \(largest) to \(count) orders (state \(status.state))"
                        )
                    }
                    largestLog[name] = max(largestLog[name] ?? 0, count)
                }
            }
            try? await Task.sleep(for: .milliseconds(Int64(configuration.sampleInterval * 1000)))
        }
    }

    // MARK: The end

    /// Starts any node that is not running (one the fault loop did not kill counts as an anomaly: it
    /// died on its own) and waits until every node is ready and the frontend sees them.
    private func ensureRunning() async throws {
        for name in LocalCluster.nodeNames where !cluster.isRunning(name) {
            ledger.anomaly(
                "\(name) is not running at the end of the run: it exited on its own (see \(cluster.path("logs", "\(name).log")))"
            )
            archiveLog(name)
            try cluster.start(name)
        }
        for name in LocalCluster.nodeNames where !(await waitUntilReady(name, timeout: configuration.recoveryTimeout)) {
            ledger.anomaly("\(name) not ready at the end of the run")
        }
        await checkPeerViews()
        do {
            try await waitUntilHealthy()
        } catch {
            ledger.anomaly(
                "the frontend does not report the cluster healthy after the faults: \((error as? ClusterFailure)?.message ?? "\(error)")"
            )
        }
    }

    /// Once every node is running and ready, every node's failure detector must see all its peers up
    /// again within a few heartbeats. A node that still sees a ready peer as down has stopped
    /// heartbeating it.
    private func checkPeerViews(timeout: Duration = .seconds(10)) async {
        let started = ContinuousClock.now
        var down: [String: [String]] = [:]
        while true {
            down = [:]
            for name in LocalCluster.nodeNames {
                let status = try? await cluster.withNodeClient(name, timeout: .seconds(1)) {
                    try await $0.chaosCall(NodeMethods.Health.self, Empty(), timeout: .seconds(1))
                }
                if let status {
                    if !status.peersDown.isEmpty { down[name] = status.peersDown }
                } else {
                    down[name] = ["(no answer)"]
                }
            }
            if down.isEmpty || ContinuousClock.now - started >= timeout { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
        for (name, peers) in down.sorted(by: { $0.key < $1.key }) {
            ledger.anomaly(
                "\(name) still sees \(peers.joined(separator: ", ")) as down \(timeout) after every node reported ready: its heartbeats to them have stopped"
            )
        }
    }

    /// `LocalCluster.waitUntilHealthy` on a connection of its own.
    private func waitUntilHealthy() async throws {
        let client = try cluster.client(certificateRole: "admin", timeout: .seconds(5))
        do {
            try await cluster.waitUntilHealthy(timeout: .seconds(30), client: client)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    /// Waits (bounded) until the replicas agree and hold nothing; returns their final state.
    private func settle(_ phase: String) async -> ChaosClusterState {
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(Int64(configuration.settleTimeout * 1000))
        var last = ChaosClusterState()
        while true {
            last = await ChaosClusterState.read(cluster)
            if last.converged(seeds: seeds, restocks: ledger.restocks) {
                ledger.say(
                    String(
                        format: "  t=%6.1fs  converged %@ in %.2fs",
                        ledger.now,
                        phase,
                        (ContinuousClock.now - started).seconds
                    )
                )
                return last
            }
            guard ContinuousClock.now < deadline else { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
        ledger.say(
            String(
                format: "  t=%6.1fs  NOT converged %@ after %.0fs: %@",
                ledger.now,
                phase,
                configuration.settleTimeout,
                last.shortDescription
            )
        )
        ledger.note("the replicas had not converged \(phase) after \(configuration.settleTimeout) s")
        return last
    }

    /// Re-sends each buy once with its original request id (a few at a time).
    private func resend(_ buys: [ChaosBuy]) async -> [ChaosResend] {
        guard !buys.isEmpty else { return [] }
        let timeout = Duration.milliseconds(Int64(configuration.requestTimeout * 1000))
        let lanes = min(32, buys.count)
        return await withTaskGroup(of: [ChaosResend].self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    guard let client = try? cluster.client(timeout: timeout) else { return [] }
                    var out: [ChaosResend] = []
                    for buy in buys.enumerated().filter({ $0.offset % lanes == lane }).map(\.element) {
                        ledger.trace("lane \(lane): re-sending \(buy.requestId)")
                        let request = BuyRequest(item: buy.item, quantity: buy.quantity, requestId: buy.requestId)
                        let result: Result<BuyResponse, any Error>
                        do {
                            result = .success(try await client.chaosCall(Frontend.Buy.self, request, timeout: timeout))
                        } catch {
                            result = .failure(error)
                            if let stuck = error as? ChaosStuckCall { ledger.stuck(stuck, on: "frontend") }
                        }
                        out.append(ChaosResend(buy: buy, outcome: ChaosOutcome.classify(result)))
                        ledger.trace("lane \(lane): \(buy.requestId) → \(ChaosOutcome.classify(result))")
                    }
                    ledger.trace("lane \(lane): closing")
                    await client.close()
                    ledger.trace("lane \(lane): done")
                    return out
                }
            }
            var all: [ChaosResend] = []
            for await part in group { all += part }
            return all.sorted { $0.buy.requestId < $1.buy.requestId }
        }
    }
}

/// A flag one task sets and another polls.
final class ChaosFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
