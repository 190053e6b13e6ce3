import PygmyBookstore

/// A catalog replica's decisions, as a pure state machine: one input at a time (with the time given),
/// effects out. The production shell (`PygmyNodes`) and the simulator shell run this same type.
///
/// It serves search and lookup once ready, takes part in buys (hold, commit, abort), applies restocks
/// and price changes, pushes invalidations to subscribers before each change, rejoins after a restart
/// (`CatalogReplica+Join.swift`), resolves holds whose coordinator went quiet and pulls from peers whose
/// state differs (`CatalogReplica+Background.swift`). See docs/DESIGN.md.
public struct CatalogReplica: Sendable {
    public typealias Effect = ReplicaEffect<CatalogMutation, Timer>
    public typealias Input = ReplicaInput<Timer>

    public enum Timer: Hashable, Sendable {
        case heartbeat, join, staleHolds, antiEntropy
    }

    public enum Phase: String, Sendable {
        /// Restarted: records commits and unchecked holds, serves no reads, until it has merged its
        /// peers' state.
        case joining
        case ready
    }

    public struct Config: Sendable {
        public var name: String
        /// The other catalog replicas and the order replicas, by role.
        public var peers: [ReplicaRole: [String]]
        public var timing: ReplicaTiming
        /// Answer lookups with the committed buys they include (for the simulator's checker; it costs a
        /// pass over the item's commits per lookup).
        public var recordReadWitness = false
        /// Log every hold, commit and release (the simulator's traces).
        public var traceDecisions = false

        public init(name: String, peers: [ReplicaRole: [String]], timing: ReplicaTiming) {
            self.name = name
            self.peers = peers
            self.timing = timing
        }
    }

    enum Purpose: Sendable {
        case heartbeat(String, sentAt: Duration)
        case join(attempt: Int, JoinStage)
        /// `holdCreated`: the hold instance asked about (its creation time).
        case resolve(requestId: String, atCoordinator: Bool, holdCreated: Int64)
        case pull(String, SnapshotRequest)
    }

    public let config: Config
    /// Durable: what the shell loaded (or the simulator kept) from the replica's store.
    public internal(set) var state: CatalogState
    public internal(set) var phase: Phase = .joining
    public internal(set) var peers: PeerTracker
    public internal(set) var subscribers: Set<ConnectionID> = []
    /// What this replica last reported about fold horizons (`reviewFold`).
    public internal(set) var foldReport: FoldReport?
    /// Durable: this voter's membership state.
    public internal(set) var acceptor: MembershipAcceptor
    /// When each voter last vouched for this replica's read lease (the send time of the heartbeat it
    /// answered).
    var grants: [String: Duration] = [:]
    var calls = CallTable<Purpose>()
    var join = JoinProgress()
    /// Stale holds being asked about, with the replies still expected.
    var resolving: [String: Int] = [:]
    var gate: AntiEntropyGate<String>
    var pulling: Set<String> = []
    var time: ReplicaTime
    var effects: [Effect] = []

    /// A replica that starts (or restarts) with `state` and `acceptor`, its durable store's contents.
    public init(config: Config, state: CatalogState, acceptor: MembershipAcceptor, now: ReplicaTime) {
        self.config = config
        self.state = state
        self.acceptor = acceptor
        self.time = now
        self.peers = PeerTracker(byRole: config.peers, timing: config.timing, now: now.monotonic)
        self.gate = AntiEntropyGate(maxInterval: config.timing.antiEntropyMaxInterval)
    }

    var now: Duration { time.monotonic }
    var timing: ReplicaTiming { config.timing }

    /// What this replica reports in heartbeats.
    public var status: PeerStatus {
        PeerStatus(
            state: phase.rawValue,
            digest: state.digest.value,
            membership: acceptor.current,
            pending: acceptor.accepted,
            lease: leaseUntil.map { max(.zero, $0 - now) },
            fold: foldReport ?? FoldReport(folded: state.folded.before)
        )
    }

    public var membership: Membership { acceptor.current }

    /// The voters on the membership: every catalog and order replica.
    var voters: [String] { ([config.name] + peers.names(.catalog) + peers.names(.order)).sorted() }

    /// How many voters must vouch for a read lease: enough that every majority of the voters includes
    /// one of them (⌈N/2⌉: 2 of 4, 3 of 6). A membership that leaves this replica out is chosen only with a
    /// majority's acceptance, and a voter that accepted it stops vouching, so at most N − majority voters
    /// still vouch, fewer than this. (A majority would be safe too, but with one catalog and one order
    /// replica of four down no replica could serve reads.)
    var leaseQuorum: Int { voters.count - voters.count / 2 }

    /// Until when this replica may serve reads: `leaseQuorum` voters (itself included) vouched for it at
    /// heartbeats sent no earlier than `leaseUntil - leaseDuration`. Nil: no lease.
    public var leaseUntil: Duration? {
        var times = voters.compactMap { voter -> Duration? in
            voter == config.name ? (acceptor.vouches(for: config.name) ? now : nil) : grants[voter]
        }
        let quorum = leaseQuorum
        guard times.count >= quorum else { return nil }
        times.sort(by: >)
        return times[quorum - 1] + timing.leaseDuration
    }

    /// Handles one input at `time`; returns what the shell must do, in order.
    public mutating func handle(_ input: Input, at time: ReplicaTime) -> [Effect] {
        self.time = time
        switch input {
        case .boot: boot()
        case .request(let id, let request, let connection): serve(id, request, connection)
        case .reply(let id, let result): received(id, result)
        case .timer(let timer): fired(timer)
        case .connectionClosed(let connection): subscribers.remove(connection)
        case .invalidated: break
        }
        defer { effects = [] }
        return effects
    }

    private mutating func boot() {
        heartbeat()
        effects.append(.schedule(.join, after: timing.heartbeatInterval))  // after a first round of heartbeats
        join.started = now
        effects.append(.schedule(.staleHolds, after: timing.holdTimeout / 2))
        effects.append(.schedule(.antiEntropy, after: timing.antiEntropyInterval))
    }

    private mutating func fired(_ timer: Timer) {
        switch timer {
        case .heartbeat:
            heartbeat()
            reviewFold()
        case .join: joinStep()
        case .staleHolds:
            resolveStaleHolds()
            effects.append(.schedule(.staleHolds, after: timing.holdTimeout / 2))
        case .antiEntropy:
            antiEntropy()
            effects.append(.schedule(.antiEntropy, after: timing.antiEntropyInterval))
        }
    }

    mutating func call(_ peer: String, _ request: PeerRequest, _ purpose: Purpose, timeout: Duration) {
        effects.append(.call(calls.open(purpose), peer: peer, request, timeout: timeout))
    }

    mutating func log(_ level: ReplicaLogLevel, _ line: String) { effects.append(.log(level, line)) }

    private mutating func heartbeat() {
        for peer in peers.startHeartbeats() {
            call(peer, .heartbeat, .heartbeat(peer, sentAt: now), timeout: timing.heartbeatTimeout)
        }
        effects.append(.schedule(.heartbeat, after: timing.heartbeatInterval))
    }

    private mutating func received(_ id: CallID, _ result: CallResult) {
        guard let purpose = calls.close(id) else { return }
        switch purpose {
        case .heartbeat(let peer, let sentAt):
            peers.heartbeatEnded(peer)
            if let line = peers.record(peer, result, now: now) { log(.info, line) }
            if case .answered(.status(let status), _) = result {
                if let membership = status.membership { adopt(membership) }
                if status.vouches(for: config.name, epoch: acceptor.current.epoch) {
                    grants[peer] = sentAt
                } else {
                    grants.removeValue(forKey: peer)
                }
            }
        case .join(let attempt, let stage):
            if let peer = stage.peer, let line = peers.record(peer, result, now: now) { log(.info, line) }
            joinReplied(attempt: attempt, stage, result)
        case .resolve(let requestId, let atCoordinator, let holdCreated):
            resolveReplied(requestId, atCoordinator: atCoordinator, holdCreated: holdCreated, result)
        case .pull(let peer, let request):
            if let line = peers.record(peer, result, now: now) { log(.info, line) }
            guard case .answered(.snapshot(var snapshot), _) = result else {
                pulling.remove(peer)
                return
            }
            snapshot.holds = []
            write(state.mutationsToMerge(snapshot))
            if let next = snapshot.next {
                log(.debug, "anti-entropy: asking \(peer) for the next page of its snapshot")
                let following = SnapshotRequest(limit: request.limit, from: next)
                call(peer, .snapshot(following), .pull(peer, following), timeout: timing.resyncTimeout)
            } else {
                pulling.remove(peer)
            }
        }
    }

    // MARK: Serving

    private mutating func serve(_ id: InboundID, _ request: PeerRequest, _ connection: ConnectionID) {
        do {
            effects.append(.answer(id, .success(try answer(request, connection))))
        } catch let error as BookstoreError {
            effects.append(.answer(id, .failure(error)))
        } catch {
            effects.append(.answer(id, .failure(BookstoreError(.invalidValue, "\(error)"))))
        }
    }

    private mutating func answer(_ request: PeerRequest, _ connection: ConnectionID) throws -> PeerResponse {
        switch request {
        case .heartbeat:
            return .status(status)
        case .lookup(let lookup):
            try requireReadable()
            return .book(try state.lookup(lookup.item), witness(lookup.item))
        case .search(let search):
            try requireReadable()
            return .search(SearchResponse(items: try state.search(topic: search.topic)))
        case .hold(let request):
            try requireMember(request.epoch, for: "hold")
            let hold = Hold(
                requestId: request.requestId,
                item: request.item,
                quantity: request.quantity,
                coordinator: request.coordinator,
                createdMicros: time.wallMicros,
                attempt: request.attempt
            )
            let (outcome, mutations) = try state.decideHold(hold, checked: phase == .ready)
            if config.traceDecisions {
                log(
                    .debug,
                    "hold \(request.requestId) item \(request.item)×\(request.quantity) by \(request.coordinator): "
                        + "\(outcome) (available \(state.available(request.item)), \(phase))"
                )
            }
            write(mutations)
            return .hold(outcome)
        case .commit(let buy):
            let mutations = try state.decideCommit(buy)
            if config.traceDecisions && !mutations.isEmpty {
                log(.debug, "commit \(buy.requestId) item \(buy.item)×\(buy.quantity)")
            }
            write(mutations)
            // Applied; but a coordinator behind this replica's membership may not know every member that
            // must have the commit before the buy is acknowledged.
            if let epoch = buy.epoch, epoch < acceptor.current.epoch {
                throw BookstoreError(
                    .staleEpoch,
                    "commit \(buy.requestId) applied at \(config.name), which is at \(acceptor.current); "
                        + "the coordinator's epoch \(epoch) is older: commit at the current members before acknowledging"
                )
            }
            return .ok
        case .abort(let abort):
            // A refusal stands only once the members have recorded it knowing every hold and commit of the
            // request id: a replica still rejoining does not know them yet (found by the simulator, seed
            // 13793: a rejoining replica recorded a refusal while the member that had committed the id for
            // another coordinator was down, and the client was told "out of stock" of a bought id).
            if abort.final == true && phase != .ready {
                throw BookstoreError(.notReady, "catalog replica \(config.name) is resynchronising after a restart")
            }
            write(
                abort.final == true
                    ? try state.decideReject(
                        requestId: abort.requestId,
                        coordinator: abort.coordinator,
                        timeMicros: abort.refusedAt
                    )
                    : state.decideAbort(
                        requestId: abort.requestId,
                        coordinator: abort.coordinator,
                        attempt: abort.attempt
                    )
            )
            return .ok
        case .restock(let request):
            try requireMember(request.epoch, for: "restock")
            // Stamped only once ready: by then this replica has heard the other catalogs' fold horizons
            // (`restockFloor`), even after a restart with a clock that went back.
            guard
                phase == .ready || state.restocks[request.opId] != nil || state.recalledRestocks.contains(request.opId)
            else {
                throw BookstoreError(.notReady, "catalog replica \(config.name) is resynchronising after a restart")
            }
            let time = state.restockTime(clock: self.time.wallMicros, proposal: restockFloor)
            let restock = Restock(opId: request.opId, item: request.item, count: request.count, timeMicros: time)
            write(try state.decideRestock(restock))
            return .book(try state.lookup(request.item), nil)
        case .setCost(let request):
            try requireMember(request.epoch, for: "price change")
            let price = PriceSetting(
                item: request.item,
                cost: request.cost,
                version: request.version,
                opId: request.opId
            )
            write(try state.decideSetPrice(price))
            return .book(try state.lookup(request.item), nil)
        case .snapshot(let request):
            return .snapshot(state.snapshot(request))
        case .subscribe:
            subscribers.insert(connection)
            return .ok
        case .prepare, .accept, .learn:
            return vote(request)
        case .buy, .resolve, .replicate, .listOrders, .join:
            throw BookstoreError(.invalidValue, "catalog replica \(config.name) does not serve \(request.name)")
        }
    }

    /// Reads need a ready replica with a read lease: then no buy acknowledged without this replica can
    /// exist (a membership that leaves it out is used only after its lease has run out).
    private func requireReadable() throws {
        guard phase == .ready else {
            throw BookstoreError(.notReady, "catalog replica \(config.name) is resynchronising after a restart")
        }
        guard let lease = leaseUntil, now < lease else {
            throw BookstoreError(
                .notReady,
                "catalog replica \(config.name) has no read lease (it cannot hear from enough of the replicas, "
                    + "or is not a member of \(acceptor.current)); another replica may answer"
            )
        }
    }

    /// Holds and admin writes are taken only by members of the sender's epoch: a write acknowledged by
    /// every member of epoch e was applied by each before it adopted a later epoch, so a replica
    /// re-admitted later copies it from any of them.
    private func requireMember(_ epoch: UInt64?, for what: String) throws {
        let current = acceptor.current
        guard current.contains(config.name) else {
            throw BookstoreError(
                .staleEpoch,
                "catalog replica \(config.name) is not a member of \(current); it takes no \(what) until re-admitted"
            )
        }
        if let epoch, epoch != current.epoch {
            throw BookstoreError(
                .staleEpoch,
                "catalog replica \(config.name) is at \(current), the \(what) was for epoch \(epoch); retry"
            )
        }
    }

    private func witness(_ item: ItemID) -> ReadWitness? {
        guard config.recordReadWitness else { return nil }
        return ReadWitness(
            committed: Set(state.committed.values.lazy.filter { $0.item == item }.map(\.requestId)),
            foldedBefore: state.folded.before
        )
    }

    /// Invalidate, persist, apply: the pushes go out before the change is durable or visible.
    mutating func write(_ mutations: [CatalogMutation]) {
        guard !mutations.isEmpty else { return }
        if !subscribers.isEmpty {
            let ordered = subscribers.sorted()
            for invalidation in state.invalidations(for: mutations) {
                for subscriber in ordered { effects.append(.push(subscriber, invalidation)) }
            }
        }
        effects.append(.persist(mutations))
        state.apply(mutations)
    }
}
