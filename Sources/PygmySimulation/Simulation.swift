import PygmyBookstore
import PygmyReplica

/// One deterministic run of the whole store: a frontend, catalog and order replicas (each running the
/// node core the real nodes run), concurrent clients and a restocker on a simulated network, with
/// crashes, restarts, hangs, connection resets, partitions, clock offsets, storage failures, delays,
/// reordering, lost and duplicated messages, all drawn from one seed. Then the faults stop, the cluster
/// is given time to converge, and every invariant is checked.
///
/// Replay a failing run with `PYGMY_SIM_SEED=<seed> swift test --filter Simulation` or
/// `pygmy sim --seed <seed> --trace`.
public struct Simulation {
    public struct Options: Sendable {
        public var catalogs = 2
        public var orders = 2
        public var clients = 6
        public var operationsPerClient = 25
        public var items = 4
        public var initialStock = 12
        /// Time after the clients finish for the cluster to converge, without faults.
        public var settleMicros: Int64 = 60_000_000
        /// Fault parameters; nil draws them from the seed.
        public var faults: SimFaults?
        /// Faults at fixed times (named scenarios), on top of `faults`.
        public var script: [SimStep] = []
        /// The nodes' timing: the real defaults, with a faster heartbeat and hold timeout, and commits
        /// folded after a second (so folds happen, under the faults, within a run of a few seconds).
        public var timing = ReplicaTiming.defaults {
            $0.heartbeatInterval = .milliseconds(100)
            $0.holdTimeout = .milliseconds(1_500)
            $0.foldRetention = .seconds(1)
            $0.foldGrid = .milliseconds(200)
            $0.syncPageOrders = 7  // every sync of a run comes in several pages
        }
        public var traceLimit = 400

        public init() {}

        /// For sweeps: no trace while running (a failing seed is run again with one).
        public static var sweep: Options {
            var options = Options()
            options.traceLimit = 0
            return options
        }
    }

    public struct Report: Sendable {
        public var seed: UInt64
        public var faults: String
        public var violations: [String]
        public var events: Int
        public var simulatedMicros: Int64
        public var buys = 0
        public var acknowledged = 0
        public var rejected = 0
        public var unknown = 0
        public var crashes = 0
        /// Faults struck, of every kind (crashes included).
        public var faultsStruck = 0
        /// The highest membership epoch any replica reached (1: the membership never changed).
        public var epoch: UInt64 = 1
        /// Copies sold by commits the first catalog replica folded into counts by the end (bounded history).
        public var foldedCopies = 0
        /// Copies restocked by folded restocks.
        public var foldedRestocks = 0
        public var lookups = 0
        /// The last lines of the event trace (kept for failing runs).
        public var trace: [String]

        public var passed: Bool { violations.isEmpty }

        public var summary: String {
            "seed \(seed): \(passed ? "ok" : "\(violations.count) VIOLATIONS"), \(events) events, "
                + "\(simulatedMicros / 1000) ms simulated, buys \(buys) (acked \(acknowledged), rejected \(rejected), "
                + "unknown \(unknown)), \(faultsStruck) faults (\(crashes) crashes), epoch \(epoch), "
                + "\(foldedCopies) copies sold and \(foldedRestocks) restocked folded; faults: \(faults)"
        }
    }

    public let seed: UInt64
    public let options: Options

    public init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
    }

    public func run() -> Report {
        var random = SimRandom(seed: seed)
        let faults = options.faults ?? SimFaults.random(&random)
        let world = SimWorld(random: random, faults: faults, traceLimit: options.traceLimit)
        let cluster = SimCluster(world: world, options: options)
        let checker = SimChecker(cluster: cluster)
        var traceAtFirstViolation: [String]?
        cluster.ledger.onViolation = { text in
            guard traceAtFirstViolation == nil else { return }
            world.log("VIOLATION: \(text)")
            traceAtFirstViolation = world.trace
        }
        cluster.start()

        // Clients run while the fault injector crashes replicas; the faults stop when the clients are
        // done or after 300 s. Liveness is only owed once faults stop: a schedule that crashes a replica
        // every few hundred milliseconds forever may keep any protocol from finishing (seed 695 did).
        var crashes = 0
        var struck = 0
        cluster.run(options.script)
        cluster.injectFaults { kind in
            struck += 1
            if kind == .crash { crashes += 1 }
        }
        let faultWindow: Int64 = 300_000_000
        let limit: Int64 = 600_000_000
        world.run(until: limit) {
            checker.checkStep()
            if cluster.ledger.clientsDone || world.now >= faultWindow { cluster.stopFaults() }
        } stopWhen: {
            cluster.ledger.clientsDone && cluster.allUp
        }
        if !cluster.ledger.clientsDone {
            cluster.ledger.violation("clients did not finish within \(limit / 1_000_000) s")
        }
        cluster.stopFaults()
        // Give the cluster a bounded time to converge (checked every heartbeat), then check everything.
        let settleDeadline = world.now + options.settleMicros
        var settled = false
        while !settled && world.now < settleDeadline {
            world.run(until: world.now + options.timing.heartbeatInterval.microseconds) {
                checker.checkStep()
            } stopWhen: {
                false
            }
            settled = checker.converged
        }
        if !settled {
            cluster.ledger.violation(
                "the replicas did not converge within \(options.settleMicros / 1_000_000) s after the faults stopped"
            )
        }
        checker.checkEnd()
        if settled, options.timing.foldRetention != nil { foldEverything(world, cluster, checker) }

        var report = Report(
            seed: seed,
            faults: faults.description,
            violations: cluster.ledger.violations,
            events: world.events,
            simulatedMicros: world.now,
            trace: traceAtFirstViolation ?? world.trace
        )
        report.crashes = crashes
        report.faultsStruck = struck
        report.epoch =
            (cluster.catalogs.map(\.durable.acceptor) + cluster.orders.map(\.durable.acceptor))
            .map(\.current.epoch).max() ?? 1
        report.foldedCopies = cluster.catalogs.first?.state.folded.sold.values.reduce(0, +) ?? 0
        report.foldedRestocks = cluster.catalogs.first?.state.folded.restocked.values.reduce(0, +) ?? 0
        for buy in cluster.ledger.buys.values {
            report.buys += 1
            switch buy.outcome {
            case .acknowledged: report.acknowledged += 1
            case .rejected: report.rejected += 1
            case .unknown: report.unknown += 1
            }
        }
        return report
    }
}

extension Simulation {
    /// Bounded history, checked: with no buys going on, every catalog replica must fold every commit and
    /// every refusal within a bounded time (the retention, the replicas' clock offsets and a few rounds),
    /// and every invariant must hold again afterwards, folded commits included.
    func foldEverything(_ world: SimWorld, _ cluster: SimCluster, _ checker: SimChecker) {
        // The network stops losing messages too: a lost message resets its connection and fails every
        // call on it, so an order replica redelivering many commits at once could otherwise wait forever.
        world.faults.dropChance = 0
        let deadline = world.now + 30_000_000
        // Until everything is folded and the cluster is quiet again (a buy retried late may still run).
        while world.now < deadline
            && !(cluster.catalogs.allSatisfy({ $0.state.committed.isEmpty && $0.state.refusals.isEmpty })
                && checker.converged)
        {
            world.run(until: world.now + options.timing.heartbeatInterval.microseconds) {
                checker.checkStep()
            } stopWhen: {
                false
            }
        }
        for catalog in cluster.catalogs where !catalog.state.committed.isEmpty || !catalog.state.refusals.isEmpty {
            cluster.ledger.violation(
                "\(catalog.name) still has \(catalog.state.committed.count) unfolded commits and "
                    + "\(catalog.state.refusals.count) refusals 30 s after the buys ended "
                    + "(folded before \(catalog.state.folded.before) µs)"
            )
        }
        checker.checkEnd()
        retryLate(world, cluster, checker)
    }

    /// Late retries: once the order replicas have dropped the folded orders from memory, clients ask
    /// again for some of their buys; each must be answered as before, from the store (`recall`).
    func retryLate(_ world: SimWorld, _ cluster: SimCluster, _ checker: SimChecker) {
        world.run(until: world.now + 3 * options.timing.heartbeatInterval.microseconds) {
        } stopWhen: {
            false
        }
        var unanswered = 0
        for case let client as SimClient in cluster.clients { client.retryLate(count: 4) { unanswered += $0 } }
        for case let restocker as SimRestocker in cluster.clients { restocker.retryLate(count: 3) { unanswered += $0 } }
        let deadline = world.now + 60_000_000
        world.run(until: deadline) {
            checker.checkStep()
        } stopWhen: {
            unanswered == 0
        }
        if unanswered > 0 { cluster.ledger.violation("\(unanswered) late retries not answered within 60 s") }
        while world.now < deadline && !checker.converged {
            world.run(until: world.now + options.timing.heartbeatInterval.microseconds) {
            } stopWhen: {
                false
            }
        }
        checker.checkEnd()
    }
}
