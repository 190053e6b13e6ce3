import Foundation
import Logging
import NIOCore
import PygmyBookstore
import PygmyRPC
import PygmyReplica

/// The production shell: runs a node core on the node's event loop and carries out its effects over
/// PygmyRPC (calls, answers, pushes), SQLite (persists) and the loop's timers. The simulator runs the
/// same cores under its own shell (`PygmySimulation.SimReplica`).
///
/// Every input is handled to the end before the next: the core decides, and its effects run in order.
/// A persist is durable before any later effect of the same input; if it fails, the node stops serving
/// (its in-memory state may be ahead of its disk) and `onStorageFailure` decides what happens next (the
/// `pygmy node` process exits, so a supervisor restarts it from what is durable).
actor ReplicaShell<Core: ReplicaCore> {
    let executor: NodeExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private(set) var core: Core
    private let clients: PeerClients
    private let persistence: @Sendable ([Core.Mutation]) throws -> Void
    private let persistenceOfMembership: @Sendable (MembershipAcceptor) throws -> Void
    /// Reads the outcome the store holds for a request id (`ReplicaCore.recall`).
    private let lookup: @Sendable (String) throws -> Core.Recalled?
    private let logger: Logger
    private let origin = ContinuousClock.now
    private var waiting: [InboundID: CheckedContinuation<Result<PeerResponse, BookstoreError>, Never>] = [:]
    private var nextInbound: UInt64 = 1
    private var subscriptions: [ConnectionID: RPCServerConnection] = [:]
    private var timers: [UInt64: Scheduled<Void>] = [:]
    private var nextTimer: UInt64 = 1
    /// Stopped (shut down, crashed, a storage failure, or a test's fault hook): no input is handled.
    private(set) var halted = false
    /// Test hook called at each step of a buy; one that throws stops the node there as if its process
    /// had died (nothing after that step happens).
    private var faultHook: (@Sendable (BuyCheckpoint) throws -> Void)?
    private let onStorageFailure: @Sendable (any Error) -> Void
    /// Where commit latencies go (nil: the node serves no metrics).
    private let metrics: NodeMetrics?

    init(
        core: Core,
        clients: PeerClients,
        executor: NodeExecutor,
        logger: Logger,
        persist: @escaping @Sendable ([Core.Mutation]) throws -> Void,
        persistMembership: @escaping @Sendable (MembershipAcceptor) throws -> Void = { _ in },
        lookup: @escaping @Sendable (String) throws -> Core.Recalled? = { _ in nil },
        onStorageFailure: @escaping @Sendable (any Error) -> Void,
        metrics: NodeMetrics? = nil
    ) {
        self.core = core
        self.clients = clients
        self.executor = executor
        self.logger = logger
        self.persistence = persist
        self.persistenceOfMembership = persistMembership
        self.lookup = lookup
        self.onStorageFailure = onStorageFailure
        self.metrics = metrics
    }

    /// The time the core is given: monotonic since the shell started, and the wall clock.
    var time: ReplicaTime {
        ReplicaTime(
            monotonic: ContinuousClock.now - origin,
            wallMicros: Int64(Date().timeIntervalSince1970 * 1_000_000)
        )
    }

    func setFaultHook(_ hook: (@Sendable (BuyCheckpoint) throws -> Void)?) { faultHook = hook }

    /// Reads something of the core (status, tests), with the monotonic time now.
    func inspect<T: Sendable>(_ body: (Core, Duration) -> T) -> T { body(core, time.monotonic) }

    /// Starts the core's background work.
    func boot() { deliver(.boot) }

    /// Stops handling inputs; cancels timers and answers every waiting request with `unavailable`.
    func halt(_ why: String) {
        guard !halted else { return }
        halted = true
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        let pending = waiting
        waiting.removeAll()
        for continuation in pending.values {
            continuation.resume(returning: .failure(BookstoreError(.unavailable, why)))
        }
    }

    /// Handles a request from a peer or client and waits for the core's answer. `connection` is where
    /// it came from (a subscription pushes on it).
    func request(_ request: PeerRequest, connection: RPCServerConnection?) async -> Result<PeerResponse, BookstoreError>
    {
        guard !halted else { return .failure(BookstoreError(.unavailable, "the node is stopping")) }
        let id = InboundID(nextInbound)
        nextInbound += 1
        let connectionID = ConnectionID(connection?.id ?? 0)
        if case .subscribe = request, let connection { watch(connection, as: connectionID) }
        return await withCheckedContinuation { continuation in
            waiting[id] = continuation
            deliver(.request(id, request, connection: connectionID))
        }
    }

    private func watch(_ connection: RPCServerConnection, as id: ConnectionID) {
        guard subscriptions.updateValue(connection, forKey: id) == nil else { return }
        Task(executorPreference: executor) {
            await connection.waitUntilClosed()
            await self.connectionClosed(id)
        }
    }

    private func connectionClosed(_ id: ConnectionID) {
        guard subscriptions.removeValue(forKey: id) != nil else { return }
        deliver(.connectionClosed(id))
    }

    /// Hands one input to the core and carries out its effects.
    func deliver(_ input: ReplicaInput<Core.Timer>) {
        guard !halted else { return }
        let named = core.requestIdsToRecall(input)
        if !named.isEmpty {
            do {
                core.recall(try named.compactMap(lookup))
            } catch {
                // Deciding without the store's answer could decide a request id twice: stop as for a write.
                return storageFailed(error)
            }
        }
        let effects = core.handle(input, at: time)
        for effect in effects {
            guard !halted else { return }
            execute(effect)
        }
    }

    /// Runs a write (one SQLite transaction, timed for the metrics); a failed one stops the node (its memory
    /// may be ahead of its disk).
    private func durably(_ write: () throws -> Void) {
        do {
            let start = ContinuousClock.now
            try write()
            metrics?.recordCommit(ContinuousClock.now - start)
        } catch {
            storageFailed(error)
        }
    }

    private func storageFailed(_ error: any Error) {
        logger.critical(
            "storage failure: the node stops (restart it; it recovers from what is durable)",
            metadata: ["error": "\(error)"]
        )
        halt("storage failure at this node; retry at another replica")
        onStorageFailure(error)
    }

    private func execute(_ effect: ReplicaEffect<Core.Mutation, Core.Timer>) {
        switch effect {
        case .persist(let mutations):
            durably { try persistence(mutations) }
        case .persistMembership(let acceptor):
            durably { try persistenceOfMembership(acceptor) }
        case .call(let id, let peer, let request, let timeout):
            let clients = self.clients
            Task(executorPreference: executor) {
                let result = await clients.call(peer, request, timeout: timeout)
                await self.deliver(.reply(id, result))
            }
        case .answer(let id, let result):
            waiting.removeValue(forKey: id)?.resume(returning: result)
        case .push(let connection, let invalidation):
            guard let subscriber = subscriptions[connection] else { return }
            do {
                try subscriber.enqueuePush(Catalog.Invalidated.self, invalidation)
            } catch {
                connectionClosed(connection)
            }
        case .schedule(let timer, let delay):
            let key = nextTimer
            nextTimer += 1
            timers[key] = executor.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay.microseconds * 1000))) {
                self.assumeIsolated { shell in
                    shell.timers.removeValue(forKey: key)
                    shell.deliver(.timer(timer))
                }
            }
        case .checkpoint(let step):
            guard let hook = faultHook else { return }
            do {
                try hook(step)
            } catch {
                halt("stopped by a fault hook at \(step)")
            }
        case .log(let level, let line):
            switch level {
            case .debug: logger.debug("\(line)")
            case .info: logger.info("\(line)")
            case .warning: logger.warning("\(line)")
            }
        }
    }
}

extension Result where Success == PeerResponse, Failure == BookstoreError {
    /// The response, or the error thrown for the RPC layer to send.
    func value() throws -> PeerResponse {
        switch self {
        case .success(let response): return response
        case .failure(let error): throw error
        }
    }
}
