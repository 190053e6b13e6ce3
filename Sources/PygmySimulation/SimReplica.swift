import PygmyBookstore
import PygmyReplica

/// The simulator shell: runs a node core (the same `CatalogReplica`, `OrderReplica` or `FrontendCore`
/// the nodes ship) on a simulated host, carrying out its effects over the simulated network, clock and
/// disk. The durable part lives in `durable`: a persist updates it (or fails, and the host crashes);
/// a restart builds a new core from it.
final class SimReplica<Core: ReplicaCore, Durable>: SimHost {
    private(set) var core: Core?
    /// What survives a crash.
    private(set) var durable: Durable
    private let makeCore: (Durable, ReplicaTime) -> Core
    private let store: (inout Durable, [Core.Mutation]) -> Void
    private let storeMembership: (inout Durable, MembershipAcceptor) -> Void
    /// Reads the outcome the durable state holds for a request id (`ReplicaCore.recall`).
    private let lookup: (Durable, String) -> Core.Recalled?
    /// Called after every membership persist, for the invariant checks.
    var onMembership: (MembershipAcceptor) -> Void = { _ in }
    /// Called after every persist, for the invariant checks.
    var onPersist: () -> Void = {}

    init(
        name: String,
        world: SimWorld,
        durable: Durable,
        makeCore: @escaping (Durable, ReplicaTime) -> Core,
        store: @escaping (inout Durable, [Core.Mutation]) -> Void,
        storeMembership: @escaping (inout Durable, MembershipAcceptor) -> Void = { _, _ in },
        lookup: @escaping (Durable, String) -> Core.Recalled? = { _, _ in nil }
    ) {
        self.durable = durable
        self.makeCore = makeCore
        self.store = store
        self.storeMembership = storeMembership
        self.lookup = lookup
        super.init(name: name, world: world)
    }

    override func boot() {
        core = makeCore(durable, time)
        feed(.boot)
    }

    override func lostVolatileState() {
        core = nil
    }

    func feed(_ input: ReplicaInput<Core.Timer>) {
        guard var running = core else { return }
        let named = running.requestIdsToRecall(input)
        if !named.isEmpty {
            let outcomes = named.compactMap { lookup(durable, $0) }
            if !outcomes.isEmpty { world.log("\(name) recalled \(outcomes.count) outcome(s) from its store") }
            running.recall(outcomes)
        }
        let effects = running.handle(input, at: time)
        core = running
        execute(effects)
    }

    private func execute(_ effects: [ReplicaEffect<Core.Mutation, Core.Timer>]) {
        let life = incarnation
        for effect in effects {
            guard alive, incarnation == life else { return }
            switch effect {
            case .persist(let mutations):
                if world.random.chance(world.faults.storageFailureChance) {
                    world.log("\(name) STORAGE FAILURE: crash-restart")
                    crash()
                    world.after(world.random.micros(10_000...500_000)) { [unowned self] in restart() }
                    return
                }
                store(&durable, mutations)
                onPersist()
            case .persistMembership(let acceptor):
                if world.random.chance(world.faults.storageFailureChance) {
                    world.log("\(name) STORAGE FAILURE: crash-restart")
                    crash()
                    world.after(world.random.micros(10_000...500_000)) { [unowned self] in restart() }
                    return
                }
                storeMembership(&durable, acceptor)
                onMembership(acceptor)
            case .call(let id, let peer, let request, let timeout):
                send(peer, request, timeout: realDelay(timeout)) { [unowned self] result in feed(.reply(id, result)) }
            case .answer(let id, let result):
                respond(id, result)
            case .push(let connection, let invalidation):
                push(connection, invalidation)
            case .schedule(let timer, let delay):
                after(realDelay(delay)) { [unowned self] in feed(.timer(timer)) }
            case .checkpoint(let step):
                world.log("\(name) checkpoint \(step)")
            case .log(_, let line):
                world.log("\(name) \(line)")
            }
        }
    }

    override func serve(_ id: InboundID, _ request: PeerRequest, connection: ConnectionID) {
        feed(.request(id, request, connection: connection))
    }

    override func connectionClosed(_ connection: ConnectionID) { feed(.connectionClosed(connection)) }

    override func pushed(_ invalidation: Invalidation) { feed(.invalidated(invalidation)) }
}
