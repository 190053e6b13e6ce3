import PygmyBookstore
import PygmyReplica

/// What a simulated replica keeps across crashes: its store's contents and its membership vote.
struct SimDurable<State> {
    var state: State
    var acceptor: MembershipAcceptor
    /// A catalog replica's store keeps every restock, folded ones included (`CatalogStore.recalled`).
    var restocksEver: [String: Restock] = [:]
}

typealias SimCatalog = SimReplica<CatalogReplica, SimDurable<CatalogState>>
typealias SimOrder = SimReplica<OrderReplica, SimDurable<OrderLogState>>
typealias SimFrontend = SimReplica<FrontendCore, Void>

extension SimReplica where Core == CatalogReplica, Durable == SimDurable<CatalogState> {
    var state: CatalogState { durable.state }
    var ready: Bool { core?.phase == .ready }
}

extension SimReplica where Core == OrderReplica, Durable == SimDurable<OrderLogState> {
    var log: OrderLogState { durable.state }
}

/// The nodes of one simulated cluster (each running the node core it ships with) and the fault
/// injector that crashes, cuts off, resets and stops them.
final class SimCluster {
    let world: SimWorld
    let options: Simulation.Options
    let ledger: SimLedger
    let books: [CatalogSeed]
    let frontend: SimFrontend
    let catalogs: [SimCatalog]
    let orders: [SimOrder]
    private(set) var clients: [SimHost] = []
    private var faultsRunning = false
    /// Faults in effect now (a crashed, hung or cut-off node each count one).
    private var activeFaults = 0

    init(world: SimWorld, options: Simulation.Options) {
        self.world = world
        self.options = options
        ledger = SimLedger(items: options.items, clients: options.clients)
        let books = (1...options.items).map {
            CatalogSeed(
                item: $0,
                title: "Book \($0)",
                topic: $0 % 2 == 0 ? "systems" : "theory",
                stock: options.initialStock,
                cost: 10 * $0
            )
        }
        self.books = books
        let timing = options.timing
        let catalogNames = (1...options.catalogs).map { "catalog-\($0)" }
        let orderNames = (1...options.orders).map { "order-\($0)" }
        func peers(_ name: String) -> [ReplicaRole: [String]] {
            [.catalog: catalogNames.filter { $0 != name }, .order: orderNames.filter { $0 != name }]
        }
        var frontendConfig = FrontendCore.Config(name: "frontend", peers: peers("frontend"), timing: timing)
        frontendConfig.cacheCapacity = 64
        frontend = SimFrontend(
            name: "frontend",
            world: world,
            durable: (),
            makeCore: { _, now in FrontendCore(config: frontendConfig, now: now) },
            store: { _, _ in }
        )
        var seeded = CatalogState()
        seeded.apply(books.map(CatalogMutation.addBook))
        let initial = MembershipAcceptor(current: Membership(epoch: 1, catalogs: catalogNames))
        catalogs = catalogNames.map { name in
            var config = CatalogReplica.Config(name: name, peers: peers(name), timing: timing)
            config.recordReadWitness = true
            config.traceDecisions = options.traceLimit > 0
            return SimCatalog(
                name: name,
                world: world,
                durable: SimDurable(state: seeded, acceptor: initial),
                makeCore: { durable, now in
                    CatalogReplica(config: config, state: durable.state, acceptor: durable.acceptor, now: now)
                },
                store: { durable, mutations in
                    durable.state.apply(mutations)
                    for case .restock(let restock) in mutations {
                        if let kept = durable.restocksEver[restock.opId], !restock.supersedes(kept) { continue }
                        durable.restocksEver[restock.opId] = restock
                    }
                },
                storeMembership: { durable, acceptor in durable.acceptor = acceptor },
                lookup: { durable, opId in durable.restocksEver[opId] }
            )
        }
        orders = orderNames.enumerated().map { index, name in
            let config = OrderReplica.Config(name: name, peers: peers(name), timing: timing)
            return SimOrder(
                name: name,
                world: world,
                durable: SimDurable(
                    state: OrderLogState(replicaIndex: index, replicaCount: orderNames.count),
                    acceptor: initial
                ),
                makeCore: { durable, now in
                    OrderReplica(config: config, log: durable.state.reloaded, acceptor: durable.acceptor, now: now)
                },
                store: { durable, mutations in durable.state.apply(mutations) },
                storeMembership: { durable, acceptor in durable.acceptor = acceptor },
                lookup: { durable, requestId in durable.state.outcome(of: requestId) }
            )
        }
        clients =
            (1...options.clients).map {
                SimClient(index: $0, operations: options.operationsPerClient, world: world, ledger: ledger)
            } + [SimRestocker(world: world, ledger: ledger)]
        for host in servers + clients { world.add(host) }
        for server in servers {
            server.clockOffset = world.random.micros(world.faults.clockOffset)
            server.clockDrift = world.random.micros(world.faults.clockDrift)
        }
    }

    /// The nodes that faults strike.
    var servers: [SimHost] { [frontend] + catalogs + orders }
    /// Every server running and reachable.
    var allUp: Bool { servers.allSatisfy { $0.alive && !$0.hung } && world.blocked.isEmpty }

    func start() {
        for host in servers + clients { host.boot() }
    }

    func injectFaults(counting: @escaping (SimFaultKind) -> Void) {
        faultsRunning = true
        scheduleFault(counting)
    }

    /// No more faults: none is scheduled, and storage no longer fails.
    func stopFaults() {
        faultsRunning = false
        world.faults.storageFailureChance = 0
    }

    private func scheduleFault(_ counting: @escaping (SimFaultKind) -> Void) {
        let kinds = world.faults.kinds
        guard !kinds.isEmpty else { return }
        world.after(world.random.micros(world.faults.gap)) { [unowned self] in
            guard faultsRunning else { return }
            if activeFaults == 0 || (world.faults.allowDoubleFaults && activeFaults < 2) {
                let kind = world.random.pick(kinds)
                if strike(kind) { counting(kind) }
            }
            scheduleFault(counting)
        }
    }

    private var candidates: [SimHost] {
        var nodes: [SimHost] = catalogs + orders
        if world.faults.crashFrontend { nodes.append(frontend) }
        return nodes.filter { $0.alive && !$0.hung }
    }

    /// Starts one fault and schedules its end. Returns whether there was anything to strike.
    private func strike(_ kind: SimFaultKind) -> Bool {
        let nodes = candidates
        guard nodes.count >= 2 else { return false }
        let downtime = world.random.micros(world.faults.downtime)
        switch kind {
        case .crash:
            let victim = world.random.pick(nodes)
            victim.crash()
            activeFaults += 1
            world.after(downtime) { [unowned self] in
                victim.restart()
                activeFaults -= 1
            }
        case .hang:
            let victim = world.random.pick(nodes)
            victim.hang()
            activeFaults += 1
            world.after(downtime) { [unowned self] in
                victim.resume()
                activeFaults -= 1
            }
        case .reset:
            let a = world.random.pick(nodes)
            let b = world.random.pick(nodes.filter { $0 !== a })
            world.log("RESET \(a.name) ⇄ \(b.name)")
            world.reset(a.name, b.name, "connection reset by peer")
            world.reset(b.name, a.name, "connection reset by peer")
        case .partition:
            let cuts = partition(nodes.map(\.name))
            guard !cuts.isEmpty else { return false }
            world.log("PARTITION \(cuts.map { "\($0.from)→\($0.to)" }.joined(separator: " "))")
            for cut in cuts { world.block(cut.from, cut.to) }
            activeFaults += 1
            world.after(downtime) { [unowned self] in
                world.log("HEAL \(cuts.map { "\($0.from)→\($0.to)" }.joined(separator: " "))")
                for cut in cuts { world.unblock(cut.from, cut.to) }
                activeFaults -= 1
            }
        }
        return true
    }

    /// The links one partition cuts: one node isolated, a split into two sides, a single link both
    /// ways, or one direction only.
    private func partition(_ names: [String]) -> [SimLink] {
        let all = servers.map(\.name)
        var cuts: [SimLink] = []
        func cut(_ a: String, _ b: String) {
            cuts.append(SimLink(from: a, to: b))
            cuts.append(SimLink(from: b, to: a))
        }
        switch world.random.int(0...3) {
        case 0:
            let isolated = world.random.pick(names)
            for other in all where other != isolated { cut(isolated, other) }
        case 1:
            var side = Set(names.filter { _ in world.random.chance(0.5) })
            if side.isEmpty { side.insert(world.random.pick(names)) }
            // Among the candidates only: a node left out (the frontend, say) reaches both sides, as two
            // frontends, one per side, would.
            for a in side { for b in names where !side.contains(b) { cut(a, b) } }
        case 2:
            let a = world.random.pick(names)
            cut(a, world.random.pick(names.filter { $0 != a }))
        default:
            let a = world.random.pick(names)
            cuts.append(SimLink(from: a, to: world.random.pick(names.filter { $0 != a })))
        }
        return cuts
    }
}
