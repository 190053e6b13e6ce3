import PygmyBookstore

/// The nodes of one simulated cluster and the fault injector that crashes and restarts them.
final class SimCluster {
    let world: SimWorld
    let options: Simulation.Options
    let ledger: SimLedger
    let books: [CatalogSeed]
    let frontend: SimFrontend
    let catalogs: [SimCatalog]
    let orders: [SimOrder]
    private var clients: [SimNode] = []
    private var faultsRunning = false

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
        let settings = options.settings
        frontend = SimFrontend(name: "frontend", world: world, settings: settings)
        catalogs = (1...options.catalogs).map {
            SimCatalog(name: "catalog-\($0)", world: world, settings: settings, books: books)
        }
        orders = (1...options.orders).map {
            SimOrder(name: "order-\($0)", index: $0 - 1, count: options.orders, world: world, settings: settings)
        }
        let ledger = ledger
        clients =
            (1...options.clients).map {
                SimClient(
                    index: $0,
                    operations: options.operationsPerClient,
                    world: world,
                    settings: settings,
                    ledger: ledger
                )
            } + [SimRestocker(world: world, settings: settings, ledger: ledger)]
        let byRole: [SimRole: [String]] = [
            .frontend: [frontend.name], .catalog: catalogs.map(\.name), .order: orders.map(\.name),
        ]
        for node in servers {
            for role in SimRole.allCases {
                let names = (byRole[role] ?? []).filter { $0 != node.name }
                // The frontend does not heartbeat or call itself; replicas never call the frontend.
                if role == .frontend { continue }
                node.peersByRole[role] = names
            }
            world.add(node)
        }
        for client in clients { world.add(client) }
    }

    /// The nodes that can crash.
    var servers: [SimNode] { [frontend] + catalogs + orders }
    var allUp: Bool { servers.allSatisfy(\.alive) }

    func start() {
        for node in servers + clients { node.boot() }
    }

    /// Crashes a random server every so often and restarts it after a random pause. Unless double
    /// faults are allowed, never both replicas of a kind (nor more than one server) at once.
    func injectFaults(counting: @escaping () -> Void) {
        faultsRunning = true
        scheduleCrash(counting)
    }

    func stopFaults() { faultsRunning = false }

    private func scheduleCrash(_ counting: @escaping () -> Void) {
        world.after(world.random.micros(world.faults.crashGap)) { [unowned self] in
            guard faultsRunning else { return }
            var candidates: [SimNode] = catalogs + orders
            if world.faults.crashFrontend { candidates.append(frontend) }
            let down = servers.filter { !$0.alive }.count
            candidates = candidates.filter { node in
                guard node.alive else { return false }
                if world.faults.allowDoubleFaults { return down < 2 }
                return down == 0
            }
            if !candidates.isEmpty {
                let victim = world.random.pick(candidates)
                victim.crash()
                counting()
                world.after(world.random.micros(world.faults.downtime)) { victim.restart() }
            }
            scheduleCrash(counting)
        }
    }
}
