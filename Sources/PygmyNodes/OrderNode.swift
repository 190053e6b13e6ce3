import Foundation
import Logging
import PygmyBookstore
import PygmyRPC

/// An order replica: coordinates buys as two-phase hold/commit across the live catalog replicas, keeps
/// the durable order log, replicates each outcome to its peers before answering, and answers catalog
/// replicas that ask about the outcome of a hold.
///
/// See `docs/DESIGN.md`, "Buying", for the protocol and why it never sells a copy twice. The deterministic
/// simulation re-creates this actor's orchestration in `PygmySimulation/SimOrder.swift`: keep them in step.
public actor OrderNode {
    public let spec: NodeSpec
    /// The node's event loop (`NodeExecutor`): the actor runs there, with its connections.
    let executor: NodeExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    let topology: Topology
    let peers: Peers
    let latency = LatencyRecorder()
    private let store: OrderStore
    private let logger: Logger
    private let started = ContinuousClock.now
    private var log: OrderLogState
    /// Buys running here, by request id: a second call with the same id waits for the first.
    private var running: [String: Task<BuyResponse, any Error>] = [:]
    /// Which catalog replicas each running buy holds at, for the join barrier.
    private var buyTargets: [UUID: Set<String>] = [:]
    /// Request ids a catalog asked about while their buy was still undecided: they must not commit.
    private var abortRequested: Set<String> = []
    private var recovering = true
    private var antiEntropyGate: AntiEntropyGate<String>
    private var redelivery: RedeliverySchedule
    /// Test hook called at each step of a buy; a hook that throws makes the buy stop there as if the
    /// process had died (nothing after that step happens, nothing is cleaned up).
    private var faultHook: (@Sendable (BuyStep) async throws -> Void)?

    /// Points inside a buy where tests inject crashes.
    public typealias BuyStep = BuyCheckpoint

    public func setFaultHook(_ hook: (@Sendable (BuyStep) async throws -> Void)?) { faultHook = hook }

    init(_ environment: ReplicaEnvironment) throws {
        (spec, topology, peers, executor, logger) = (
            environment.spec, environment.topology, environment.peers, environment.executor, environment.logger
        )
        let orders = topology.nodes(.order).map(\.name)
        self.antiEntropyGate = AntiEntropyGate(maxInterval: topology.antiEntropyMaxInterval)
        self.redelivery = RedeliverySchedule(grace: topology.redeliveryGrace)
        self.store = try OrderStore(directory: environment.dataDirectory, durability: environment.durability)
        self.log = try store.load(
            replicaIndex: orders.firstIndex(of: spec.name) ?? 0,
            replicaCount: max(1, orders.count)
        )
    }

    private func apply(_ mutations: [OrderMutation]) throws {
        guard !mutations.isEmpty else { return }
        try store.persist(mutations)
        log.apply(mutations)
    }

    // MARK: Buying

    func buy(_ request: BuyRequest) async throws -> BuyResponse {
        guard request.quantity > 0, request.quantity <= 1_000_000 else {
            throw BookstoreError(.invalidValue, "quantity must be between 1 and 1000000, not \(request.quantity)")
        }
        guard !request.requestId.isEmpty, request.requestId.utf8.count <= 128 else {
            throw BookstoreError(.invalidValue, "request id must be 1 to 128 bytes")
        }
        if let task = running[request.requestId] { return try await task.value }
        if let outcome = log.outcome(of: request.requestId) {
            if case .ordered(let record) = outcome, record.item != request.item || record.quantity != request.quantity {
                throw BookstoreError(
                    .requestIdReused,
                    "request id \(request.requestId) was already used for order \(record.order) "
                        + "(\(record.quantity) × item \(record.item)); a new purchase needs a new request id"
                )
            }
            do {
                var response = try await answerFromLog(outcome)
                response.replayed = true
                return response
            } catch let error as BookstoreError where error.code != .unavailable {
                throw BookstoreError(
                    error.code,
                    "\(error.message) (replayed: the outcome decided earlier for request id \(request.requestId))"
                )
            }
        }
        // On the node's loop, with the calls its task groups make to the peers.
        let task = Task(executorPreference: executor) { try await self.coordinate(request) }
        running[request.requestId] = task
        defer { running.removeValue(forKey: request.requestId) }
        return try await task.value
    }

    /// Answers with an outcome already in the log. An order learnt from a peer (or whose commit is still on
    /// its way) is acknowledged only once every catalog replica has its commit or is down, so no read after
    /// the answer misses it. Found by the simulator: retries answered from the log before the coordinator
    /// had committed.
    private func answerFromLog(_ outcome: BuyOutcome) async throws -> BuyResponse {
        if case .ordered(let record) = outcome, log.undelivered.contains(record.requestId) {
            let replies = await deliverLogged(record)
            let missing = peers.names(.catalog).filter { !replies.acked.contains($0) && !replies.refused.contains($0) }
            guard missing.isEmpty else {
                throw BookstoreError(
                    .unavailable,
                    "order \(record.order) is decided, but catalog replicas \(missing.joined(separator: ", ")) "
                        + "have not confirmed it yet; retry for its outcome"
                )
            }
        }
        return try Self.answer(outcome)
    }

    static func answer(_ outcome: BuyOutcome) throws -> BuyResponse {
        switch outcome {
        case .ordered(let record): return BuyResponse(record)
        case .rejected(let rejection): throw BookstoreError(rejection.code, rejection.message)
        }
    }

    /// One buy, coordinated here. Retries once when a catalog replica fails during the hold phase.
    private func coordinate(_ request: BuyRequest) async throws -> BuyResponse {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await attemptBuy(request)
            } catch let retry as RetryBuy where attempt < 3 {
                logger.debug(
                    "retrying buy",
                    metadata: ["requestId": "\(request.requestId)", "reason": "\(retry.reason)"]
                )
            } catch let retry as RetryBuy {
                throw BookstoreError(.unavailable, "buy could not complete: \(retry.reason)")
            }
        }
    }

    private struct RetryBuy: Error { var reason: String }

    /// One attempt: runs a `BuyCoordinator` (the protocol's decisions) over RPC and the durable log.
    private func attemptBuy(_ request: BuyRequest) async throws -> BuyResponse {
        // The failure detector is advice: when it considers no replica up (a burst of load can delay
        // heartbeats), try them all; a replica that answers is marked up again by the call itself.
        var targets = peers.up(.catalog)
        if targets.isEmpty { targets = peers.names(.catalog) }
        guard !targets.isEmpty else { throw BookstoreError(.unavailable, "the topology has no catalog replica") }
        let id = request.requestId
        abortRequested.remove(id)
        let token = UUID()
        buyTargets[token] = Set(targets)
        defer { buyTargets.removeValue(forKey: token) }

        var buy = BuyCoordinator(
            request: request,
            coordinator: spec.name,
            targets: targets,
            catalogs: peers.names(.catalog)
        )
        var actions = buy.start()
        while true {
            for action in actions {
                switch action {
                case .persist(let mutations): try apply(mutations)
                case .abort(let replicas, let abort): await release(abort, at: replicas)
                case .checkpoint(let step): try await faultHook?(step)
                }
            }
            switch buy.awaiting {
            case .holds(let replicas, let hold):
                actions = buy.holdsAnswered(await holds(hold, at: replicas))
            case .decision:
                actions = buy.decide(
                    log: log,
                    abortRequested: abortRequested.remove(id) != nil,
                    timeMicros: CatalogNode.wallMicros()
                )
            case .replication(let replication):
                await replicate(replication)
                actions = buy.replicated()
            case .commits(let replicas, let commit):
                let replies = try await deliver(commit, to: replicas)
                actions = buy.committed(acknowledgedBy: replies.acked, refusedBy: replies.refused)
            case .done(.ordered(let response)):
                return response
            case .done(.refused(let error)):
                if error.code == .inProgress, let outcome = log.outcome(of: id) {
                    return try await answerFromLog(outcome)
                }
                throw error
            case .done(.retry(let reason)):
                throw RetryBuy(reason: reason)
            }
        }
    }

    /// Sends `hold` to `replicas` in parallel and collects every reply.
    private func holds(_ hold: HoldRequest, at replicas: [String]) async -> [String: BuyCoordinator.HoldReply] {
        await withTaskGroup(of: (String, BuyCoordinator.HoldReply).self) { group in
            for replica in replicas {
                group.addTask(executorPreference: executor) { (replica, await self.holdReply(replica, hold)) }
            }
            var replies: [String: BuyCoordinator.HoldReply] = [:]
            for await (replica, reply) in group { replies[replica] = reply }
            return replies
        }
    }

    /// One replica's answer to a hold. (Kept out of the task group's closure on purpose: returning a tuple
    /// literal with a `try await` element from inside `do`/`catch` in an async closure is miscompiled by
    /// Swift 6.3.1 with `-O` and crashes the order replica; see docs/BENCH.md, "Known issue".) Nonisolated:
    /// the call needs nothing of the actor's, and a task group's child would otherwise hop onto the actor
    /// to make it and again to return.
    private nonisolated func holdReply(_ replica: String, _ hold: HoldRequest) async -> BuyCoordinator.HoldReply {
        do {
            let outcome = try await peers.call(replica, Catalog.Hold.self, hold, timeout: .seconds(2))
            return .answered(outcome)
        } catch {
            return .failed("\(error)")
        }
    }

    /// Releases holds at `replicas` (best effort: a replica that misses it resolves the hold later).
    private func release(_ abort: AbortRequest, at replicas: [String]) async {
        await withTaskGroup(of: Void.self) { group in
            for replica in replicas {
                group.addTask(executorPreference: executor) {
                    _ = try? await self.peers.call(replica, Catalog.Abort.self, abort, timeout: .seconds(2))
                }
            }
        }
    }

    private func replicate(_ request: ReplicateRequest) async {
        await withTaskGroup(of: Void.self) { group in
            for peer in peers.up(.order) {
                group.addTask(executorPreference: executor) {
                    _ = try? await self.peers.call(peer, Order.Replicate.self, request, timeout: .seconds(2))
                }
            }
        }
    }

    /// Sends the commit to `replicas` and waits for every answer; returns which acknowledged it and which
    /// refused the connection (their process is down).
    private func deliver(_ buy: CommittedBuy, to replicas: [String]) async throws -> CommitReplies {
        if let hook = faultHook {
            // Sequential, so a test can stop the buy between the first commit and the rest.
            var replies = CommitReplies()
            for (index, replica) in replicas.enumerated() {
                replies.record(replica, await commitResult(replica, buy))
                if index == 0 { try await hook(.afterFirstCommit) }
            }
            return replies
        }
        return await withTaskGroup(of: (String, Result<Void, any Error>).self) { group in
            for replica in replicas {
                group.addTask(executorPreference: executor) { (replica, await self.commitResult(replica, buy)) }
            }
            var replies = CommitReplies()
            for await (replica, result) in group { replies.record(replica, result) }
            return replies
        }
    }

    private nonisolated func commitResult(_ replica: String, _ buy: CommittedBuy) async -> Result<Void, any Error> {
        do {
            _ = try await peers.call(replica, Catalog.Commit.self, buy, timeout: .seconds(2))
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    struct CommitReplies {
        var acked = Set<String>()
        var refused = Set<String>()

        /// A refused connection (or one not even attempted while backing off after a refusal) means the
        /// replica's process is not running; a closed connection or a timeout proves nothing.
        mutating func record(_ replica: String, _ result: Result<Void, any Error>) {
            switch result {
            case .success: acked.insert(replica)
            case .failure(let error as TransportError) where error.kind == .connectFailed || error.kind == .backingOff:
                refused.insert(replica)
            case .failure: break
            }
        }
    }

    // MARK: Answers to peers

    func resolve(_ request: ResolveRequest) -> Resolution {
        if let record = log.orders[request.requestId] {
            return .committed(CommittedBuy(requestId: record.requestId, item: record.item, quantity: record.quantity))
        }
        if running[request.requestId] != nil { abortRequested.insert(request.requestId) }
        return .aborted
    }

    func list(_ request: OrdersRequest) -> OrderLogSnapshot {
        OrderLogSnapshot(
            orders: log.orderedLog.filter { $0.order > request.after },
            rejections: request.after == 0 ? log.rejections.values.sorted { $0.requestId < $1.requestId } : []
        )
    }

    func merge(_ request: ReplicateRequest) throws {
        try apply(log.mutationsToMerge(orders: request.orders, rejections: request.rejections))
    }

    /// The join barrier: from now on every buy holds at `catalog` (it is up, so `peers.up` includes it);
    /// wait until the buys that started without it have finished.
    func join(_ request: JoinRequest) async {
        peers.markUp(request.catalog)
        let deadline = ContinuousClock.now + .seconds(8)
        while ContinuousClock.now < deadline, buyTargets.values.contains(where: { !$0.contains(request.catalog) }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The node's status; heartbeats ask for it without latency summaries, the costly part.
    func status(latencies: Bool = true) -> NodeStatus {
        let (up, down) = peers.peerNamesByState()
        return NodeStatus(
            name: spec.name,
            role: NodeRole.order.rawValue,
            address: spec.address,
            state: recovering ? "recovering" : "ready",
            uptimeSeconds: CatalogNode.seconds(ContinuousClock.now - started),
            latencies: latencies ? latency.summaries() : [],
            peersUp: up,
            peersDown: down,
            orderCount: log.orders.count,
            digest: log.digest.value
        )
    }

    /// Whether the actor is running on its node's event loop (for tests of the threading design).
    func runsOnItsLoop() -> Bool { executor.eventLoop.inEventLoop }

    /// Closes the database (`PygmyNode.stop`, `crash`); the node is dead to its peers by then.
    func closeStore() { store.close() }

    public func orders() -> [OrderRecord] { log.orderedLog }

    // MARK: Recovery and background work

    /// After a restart: merge the peers' logs, release the holds of buys that were undecided at the crash,
    /// and resend commits that may not have reached every catalog replica.
    func recover() async {
        for peer in peers.up(.order) {
            if let snapshot = try? await peers.call(peer, Order.List.self, OrdersRequest()) {
                try? merge(ReplicateRequest(orders: snapshot.orders, rejections: snapshot.rejections))
            }
        }
        for pending in log.pending.values where running[pending.requestId] == nil {
            try? apply([.forget(requestId: pending.requestId)])
            await release(AbortRequest(requestId: pending.requestId, coordinator: spec.name), at: peers.up(.catalog))
        }
        recovering = false
        await redeliver(log.undelivered.sorted())
    }

    /// Resends commits of orders not yet acknowledged by every catalog replica once they are due
    /// (`RedeliverySchedule`: their coordinator has had time to deliver them itself).
    func redeliver() async {
        await redeliver(redelivery.due(log.undelivered, now: peers.now))
    }

    private func redeliver(_ ids: [String]) async {
        for id in ids {
            if let record = log.orders[id], log.undelivered.contains(id) { _ = await deliverLogged(record) }
        }
    }

    /// Sends the commit of a logged order to the catalog replicas; marks it delivered once all have it.
    private func deliverLogged(_ record: OrderRecord) async -> CommitReplies {
        let buy = CommittedBuy(requestId: record.requestId, item: record.item, quantity: record.quantity)
        let replies = (try? await deliver(buy, to: peers.names(.catalog))) ?? CommitReplies()
        if replies.acked.isSuperset(of: peers.names(.catalog)) { try? apply([.delivered(requestId: record.requestId)]) }
        return replies
    }

    /// Pulls the peers' logs so replicas converge even if a replication was lost.
    func antiEntropy() async {
        // Only from peers whose last heartbeat showed a log with a different digest, and which
        // `AntiEntropyGate` finds stably different or not pulled for a while.
        let now = peers.now
        for peer in peers.up(.order)
        where antiEntropyGate.shouldPull(
            from: peer,
            peerDigest: peers.status(peer)?.digest,
            ownDigest: log.digest.value,
            now: now
        ) {
            if let snapshot = try? await peers.call(peer, Order.List.self, OrdersRequest()) {
                try? merge(ReplicateRequest(orders: snapshot.orders, rejections: snapshot.rejections))
            }
        }
    }
}
