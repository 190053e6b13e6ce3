import Foundation
import Logging
import PygmyBookstore
import PygmyRPC

/// A catalog replica: serves search and lookup, takes part in buys (hold, commit, abort), applies
/// restocks and price changes, pushes invalidations to subscribed frontends before each change, and
/// resynchronises from its peers after a restart.
///
/// Decisions come from `CatalogState` (pure); this actor persists them to SQLite and applies them. Each
/// operation decides, queues invalidation pushes, persists and applies without suspending in between, so
/// concurrent holds cannot both see the same copies. The deterministic simulation re-creates this actor's
/// orchestration (rejoin, stale holds, anti-entropy) in `PygmySimulation/SimCatalog.swift`: keep them in step.
public actor CatalogNode {
    public enum Phase: String, Sendable {
        /// Restarted: records commits and unchecked holds, serves no reads, until it has merged its
        /// peers' state.
        case joining
        case ready
    }

    public let spec: NodeSpec
    /// The node's event loop (`NodeExecutor`): the actor runs there, with its connections.
    let executor: NodeExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    let topology: Topology
    let peers: Peers
    let latency = LatencyRecorder()
    private let store: CatalogStore
    private let logger: Logger
    private let started = ContinuousClock.now
    private var state: CatalogState
    public private(set) var phase: Phase = .joining
    private var subscribers: [UInt64: RPCServerConnection] = [:]
    private var antiEntropyGate: AntiEntropyGate<String>

    init(_ environment: ReplicaEnvironment) throws {
        (spec, topology, peers, executor, logger) = (
            environment.spec, environment.topology, environment.peers, environment.executor, environment.logger
        )
        self.antiEntropyGate = AntiEntropyGate(maxInterval: topology.antiEntropyMaxInterval)
        self.store = try CatalogStore(directory: environment.dataDirectory, durability: environment.durability)
        var loaded = try store.load()
        if loaded.seeds.isEmpty {
            let seeds = try topology.seedBooks().map(CatalogMutation.addBook)
            try store.persist(seeds)
            loaded.apply(seeds)
        }
        self.state = loaded
    }

    // MARK: Reads

    private func requireReady() throws {
        guard phase == .ready else {
            throw BookstoreError(.notReady, "catalog replica \(spec.name) is resynchronising after a restart")
        }
    }

    func search(_ request: SearchRequest) throws -> SearchResponse {
        try requireReady()
        return SearchResponse(items: try state.search(topic: request.topic))
    }

    func lookup(_ request: LookupRequest) throws -> Book {
        try requireReady()
        return try state.lookup(request.item)
    }

    func snapshot() -> CatalogSnapshot { state.snapshot() }

    // MARK: Writes

    func hold(_ request: HoldRequest) throws -> HoldOutcome {
        let hold = Hold(
            requestId: request.requestId,
            item: request.item,
            quantity: request.quantity,
            coordinator: request.coordinator,
            createdMicros: Self.wallMicros()
        )
        let (outcome, mutations) = try state.decideHold(hold, checked: phase == .ready)
        try commitMutations(mutations)
        return outcome
    }

    func commit(_ buy: CommittedBuy) throws {
        try commitMutations(try state.decideCommit(buy))
    }

    func abort(_ request: AbortRequest) throws {
        if request.final == true {
            try commitMutations(state.decideReject(requestId: request.requestId))
        } else {
            try commitMutations(state.decideAbort(requestId: request.requestId, coordinator: request.coordinator))
        }
    }

    func restock(_ request: RestockRequest) throws -> Book {
        try commitMutations(state.decideRestock(Restock(opId: request.opId, item: request.item, count: request.count)))
        return try state.lookup(request.item)
    }

    func setCost(_ request: SetCostRequest) throws -> Book {
        let price = PriceSetting(item: request.item, cost: request.cost, version: request.version, opId: request.opId)
        try commitMutations(state.decideSetPrice(price))
        return try state.lookup(request.item)
    }

    /// Invalidate, persist, apply: in that order and without suspending.
    private func commitMutations(_ mutations: [CatalogMutation]) throws {
        guard !mutations.isEmpty else { return }
        pushInvalidations(for: mutations)
        try store.persist(mutations)
        state.apply(mutations)
    }

    private func pushInvalidations(for mutations: [CatalogMutation]) {
        guard !subscribers.isEmpty else { return }
        for invalidation in state.invalidations(for: mutations) {
            for (id, connection) in subscribers {
                do {
                    try connection.enqueuePush(Catalog.Invalidated.self, invalidation)
                } catch {
                    subscribers.removeValue(forKey: id)
                }
            }
        }
    }

    func subscribe(_ connection: RPCServerConnection) {
        subscribers[connection.id] = connection
        Task { [weak self] in
            await connection.waitUntilClosed()
            await self?.unsubscribe(connection.id)
        }
    }

    private func unsubscribe(_ id: UInt64) { subscribers.removeValue(forKey: id) }

    /// The node's status; heartbeats ask for it without latency summaries, the costly part.
    func status(latencies: Bool = true) -> NodeStatus {
        let (up, down) = peers.peerNamesByState()
        return NodeStatus(
            name: spec.name,
            role: NodeRole.catalog.rawValue,
            address: spec.address,
            state: phase.rawValue,
            uptimeSeconds: Self.seconds(ContinuousClock.now - started),
            latencies: latencies ? latency.summaries() : [],
            peersUp: up,
            peersDown: down,
            stock: state.seeds.keys.sorted().map {
                ItemStock(item: $0, onHand: state.stockOnHand($0), held: state.heldCopies($0))
            },
            digest: state.digest.value
        )
    }

    /// Stock on hand and held per item, for tests and the chaos checker.
    public func inventory() -> [ItemID: (onHand: Int, held: Int)] {
        var out: [ItemID: (Int, Int)] = [:]
        for item in state.seeds.keys { out[item] = (state.stockOnHand(item), state.heldCopies(item)) }
        return out
    }

    /// Whether the actor is running on its node's event loop (for tests of the threading design).
    func runsOnItsLoop() -> Bool { executor.eventLoop.inEventLoop }

    /// Closes the database (`PygmyNode.stop`, `crash`); the node is dead to its peers by then.
    func closeStore() { store.close() }

    public func currentSnapshot() -> CatalogSnapshot { state.snapshot() }

    // MARK: Joining and background work

    /// Merges a snapshot (from a peer, or commits from the order log) into this replica.
    private func merge(_ snapshot: CatalogSnapshot) throws {
        try commitMutations(state.mutationsToMerge(snapshot))
    }

    /// Runs the rejoin protocol until the replica is ready; see `docs/DESIGN.md`, "Catalog rejoin".
    func join() async {
        let startedJoining = ContinuousClock.now
        let grace = topology.failureTimeout * 2
        // Give the failure detector time to form an opinion of every order replica: the barrier below
        // must not be skipped just because no heartbeat has come back yet.
        while peers.names(.order).contains(where: { !peers.isUp($0) }) && ContinuousClock.now - startedJoining < grace {
            try? await Task.sleep(for: topology.heartbeatInterval / 2)
        }
        while phase == .joining && !Task.isCancelled {
            do {
                // 1. Every live order replica includes us in new buys and drains the buys that did not.
                for order in peers.up(.order) {
                    _ = try await peers.call(
                        order,
                        Order.Join.self,
                        JoinRequest(catalog: spec.name),
                        timeout: .seconds(10)
                    )
                }
                // 2. Merge a ready peer's state; with none ready after the grace period (a cold start of the
                //    whole cluster), merge every reachable peer, but only once every order replica is up.
                let catalogPeers = peers.names(.catalog)
                let ready = catalogPeers.filter { peers.isUp($0) && peers.status($0)?.state == Phase.ready.rawValue }
                let sources: [String]
                if !ready.isEmpty {
                    sources = [ready[0]]
                } else if ContinuousClock.now - startedJoining >= grace || catalogPeers.isEmpty,
                    peers.names(.order).allSatisfy(peers.isUp)
                {
                    // Without a ready peer, only the logs of every order replica vouch for every commit (each
                    // order is durable at its coordinator before any commit is sent). Found by the simulator:
                    // a replica that became ready with one order replica down missed commits.
                    sources = catalogPeers.filter { peers.isUp($0) }
                } else {
                    try await Task.sleep(for: topology.heartbeatInterval)
                    continue
                }
                for source in sources {
                    try merge(try await peers.call(source, Catalog.Snapshot.self, Empty()))
                }
                // 3. Merge every commit the order log knows.
                for order in peers.up(.order) {
                    let log = try await peers.call(order, Order.List.self, OrdersRequest())
                    let commits = log.orders.map {
                        CommittedBuy(requestId: $0.requestId, item: $0.item, quantity: $0.quantity)
                    }
                    try merge(CatalogSnapshot(books: [], prices: [], holds: [], committed: commits, restocks: []))
                }
                phase = .ready
                logger.info("catalog replica ready", metadata: ["mergedFrom": "\(sources)"])
            } catch {
                logger.info("rejoin step failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: topology.heartbeatInterval)
            }
        }
    }

    /// Resolves holds older than the hold timeout by asking their coordinator (or, when it is down,
    /// whether any order replica has the buy committed). A hold is released only on the coordinator's
    /// word that no commit exists.
    func resolveStaleHolds() async {
        let timeout = Int64(Self.seconds(topology.holdTimeout) * 1_000_000)
        for hold in state.staleHolds(nowMicros: Self.wallMicros(), timeoutMicros: timeout) {
            let request = ResolveRequest(requestId: hold.requestId)
            if peers.peers[hold.coordinator] != nil,
                let answer = try? await peers.call(hold.coordinator, Order.Resolve.self, request, timeout: .seconds(1))
            {
                switch answer {
                case .committed(let buy): try? commit(buy)
                case .aborted: try? abort(AbortRequest(requestId: hold.requestId, coordinator: hold.coordinator))
                case .unknown: break
                }
                continue
            }
            for order in peers.up(.order) where order != hold.coordinator {
                if case .committed(let buy)? = try? await peers.call(
                    order,
                    Order.Resolve.self,
                    request,
                    timeout: .seconds(1)
                ) {
                    try? commit(buy)
                    break
                }
            }
        }
    }

    /// Pulls committed buys, restocks and prices from a ready peer: convergence without waiting for a
    /// restart. Only from peers whose last heartbeat showed a different digest, and which `AntiEntropyGate`
    /// finds stably different or not pulled for a while: pulling a whole snapshot every few heartbeats
    /// cost a quarter of a replica's CPU once the log had grown (docs/BENCH.md).
    func antiEntropy() async {
        guard phase == .ready else { return }
        for peer in peers.up(.catalog) {
            guard let status = peers.status(peer), status.state == Phase.ready.rawValue,
                antiEntropyGate.shouldPull(
                    from: peer,
                    peerDigest: status.digest,
                    ownDigest: state.digest.value,
                    now: peers.now
                )
            else { continue }
            guard let snapshot = try? await peers.call(peer, Catalog.Snapshot.self, Empty()) else { continue }
            var withoutHolds = snapshot
            withoutHolds.holds = []
            try? merge(withoutHolds)
        }
    }

    static func wallMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
