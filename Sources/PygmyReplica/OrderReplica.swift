import PygmyBookstore

/// An order replica's decisions, as a pure state machine: one input at a time (with the time given),
/// effects out. The production shell (`PygmyNodes`) and the simulator shell run this same type.
///
/// It coordinates buys as two-phase hold/commit across the catalog replicas (`BuyCoordinator`, driven
/// in `OrderReplica+Buy.swift`), keeps the durable order log, replicates each outcome to its peers
/// before answering, answers catalog replicas that ask about a hold, runs the join barrier for
/// rejoining catalog replicas, and recovers, redelivers and pulls in the background
/// (`OrderReplica+Background.swift`). See docs/DESIGN.md, "Buying".
public struct OrderReplica: Sendable {
    public typealias Effect = ReplicaEffect<OrderMutation, Timer>
    public typealias Input = ReplicaInput<Timer>

    public enum Timer: Hashable, Sendable {
        case heartbeat, recover, redeliver, antiEntropy, membership
        case barrierDeadline(UInt64)
    }

    public struct Config: Sendable {
        public var name: String
        /// The catalog replicas and the other order replicas, by role.
        public var peers: [ReplicaRole: [String]]
        public var timing: ReplicaTiming
        /// At most this many deliveries of logged orders in flight (after a restart, every undelivered
        /// order is delivered again).
        public var maxDeliveries = 64

        public init(name: String, peers: [ReplicaRole: [String]], timing: ReplicaTiming) {
            self.name = name
            self.peers = peers
            self.timing = timing
        }
    }

    enum Purpose: Sendable {
        case heartbeat(String)
        case buy(requestId: String, step: UInt64, replica: String)
        case delivery(requestId: String, token: UInt64, replica: String)
        case recoverLog(String, OrdersRequest)
        case release(String)
        case pull(String, OrdersRequest)
        case vote(String, preparing: Bool, ballot: Ballot)
    }

    /// A client's request waiting for an outcome; `replayed` when the outcome was decided before it came.
    struct Waiter: Sendable {
        var id: InboundID
        var replayed: Bool
    }

    public let config: Config
    /// Durable: what the shell loaded (or the simulator kept) from the replica's store.
    public internal(set) var log: OrderLogState
    public internal(set) var recovering = true
    public internal(set) var peers: PeerTracker
    var calls = CallTable<Purpose>()
    var buys: [String: BuyRun] = [:]
    var nextStep: UInt64 = 1
    /// Request ids a catalog replica asked about while their buy was undecided: they must not commit.
    var abortRequested: Set<String> = []
    /// The last attempt stamp handed out (`nextAttemptStamp`).
    var lastAttemptStamp: Int64 = 0
    /// Request ids whose holds recovery is releasing: a buy for one waits until that is done.
    var releasing: [String: Int] = [:]
    var barriers: [UInt64: (catalog: String, id: InboundID)] = [:]
    var nextBarrier: UInt64 = 1
    var redelivery: RedeliverySchedule
    var deliveries: [String: Delivery] = [:]
    /// Commits of logged orders on their way (for status and tests).
    public var deliveriesInFlight: Int { deliveries.count }
    var deliveryBacklog: [String] = []
    var recoveryPending: Set<String> = []
    /// Peers whose log did not come in this recovery round, and how many rounds were tried.
    var recoveryMissed: Set<String> = []
    var recoveryRounds = 0
    var gate: AntiEntropyGate<String>
    var pulling: Set<String> = []
    var time: ReplicaTime
    var effects: [Effect] = []
    /// Durable: this voter's membership state.
    public internal(set) var acceptor: MembershipAcceptor
    /// Buys use the current membership from this time on (after one that left a replica out, once that
    /// replica's read lease has run out).
    public internal(set) var activeAt: Duration = .zero
    /// What this replica last reported about fold horizons (`reviewFold`).
    public internal(set) var foldReport: FoldReport?
    var proposal: MembershipProposer?
    var nextProposal: Duration = .zero
    var highestRound: UInt64 = 0
    var silentSince: [String: Duration] = [:]
    var answeringSince: [String: Duration] = [:]

    /// A replica that starts (or restarts) with `log` and `acceptor`, its durable store's contents.
    public init(config: Config, log: OrderLogState, acceptor: MembershipAcceptor, now: ReplicaTime) {
        self.config = config
        self.log = log
        self.acceptor = acceptor
        self.time = now
        self.peers = PeerTracker(byRole: config.peers, timing: config.timing, now: now.monotonic)
        self.redelivery = RedeliverySchedule(grace: config.timing.redeliveryGrace)
        self.gate = AntiEntropyGate(maxInterval: config.timing.antiEntropyMaxInterval)
    }

    var now: Duration { time.monotonic }
    var timing: ReplicaTiming { config.timing }
    var catalogs: [String] { peers.names(.catalog) }

    /// What this replica reports in heartbeats.
    public var status: PeerStatus {
        PeerStatus(
            state: recovering ? "recovering" : "ready",
            digest: log.digest.value,
            membership: acceptor.current,
            pending: acceptor.accepted,
            fold: recovering ? nil : foldReport
        )
    }

    public var membership: Membership { acceptor.current }

    /// Buys being coordinated here now.
    public var buysInFlight: Int { buys.count }

    /// Handles one input at `time`; returns what the shell must do, in order.
    public mutating func handle(_ input: Input, at time: ReplicaTime) -> [Effect] {
        self.time = time
        switch input {
        case .boot: boot()
        case .request(let id, let request, _): serve(id, request)
        case .reply(let id, let result): received(id, result)
        case .timer(let timer): fired(timer)
        case .connectionClosed, .invalidated: break
        }
        defer { effects = [] }
        return effects
    }

    private mutating func boot() {
        heartbeat()
        effects.append(.schedule(.recover, after: timing.heartbeatInterval))  // after a first round of heartbeats
        effects.append(.schedule(.redeliver, after: timing.redeliveryInterval))
        effects.append(.schedule(.antiEntropy, after: timing.antiEntropyInterval))
        effects.append(.schedule(.membership, after: timing.heartbeatInterval))
    }

    private mutating func fired(_ timer: Timer) {
        switch timer {
        case .heartbeat:
            heartbeat()
            reviewFold()
        case .recover: recover()
        case .redeliver:
            if !recovering { redeliverDue() }
            effects.append(.schedule(.redeliver, after: timing.redeliveryInterval))
        case .antiEntropy:
            antiEntropy()
            effects.append(.schedule(.antiEntropy, after: timing.antiEntropyInterval))
        case .membership:
            reviewMembership()
            effects.append(.schedule(.membership, after: timing.heartbeatInterval))
        case .barrierDeadline(let barrier):
            guard let (catalog, id) = barriers.removeValue(forKey: barrier) else { return }
            effects.append(
                .answer(
                    id,
                    .failure(
                        BookstoreError(
                            .unavailable,
                            "join barrier for \(catalog) at \(config.name): buys that started without it are still "
                                + "running after \(timing.joinBarrierTimeout); retry"
                        )
                    )
                )
            )
        }
    }

    mutating func call(_ peer: String, _ request: PeerRequest, _ purpose: Purpose, timeout: Duration) {
        effects.append(.call(calls.open(purpose), peer: peer, request, timeout: timeout))
    }

    mutating func log(_ level: ReplicaLogLevel, _ line: String) { effects.append(.log(level, line)) }

    /// Makes `mutations` durable (the shell, before anything after it) and applies them. When what lies
    /// before the digest mark changed (the mark moved, or an order or refusal before it came in), the
    /// batch carries the log's counters after it, so a restart loads only what is at or after the mark;
    /// a batch of recent orders needs none (`OrderLogState.Counters`).
    mutating func persist(_ mutations: [OrderMutation]) {
        log.apply(mutations)
        let counters = log.counters
        let moved = counters.differsFrom(log.storedCounters)
        guard !mutations.isEmpty || moved else { return }
        if moved { log.apply(.counters(counters)) }
        effects.append(.persist(moved ? mutations + [.counters(counters)] : mutations))
    }

    private mutating func heartbeat() {
        for peer in peers.startHeartbeats() {
            call(peer, .heartbeat, .heartbeat(peer), timeout: timing.heartbeatTimeout)
        }
        effects.append(.schedule(.heartbeat, after: timing.heartbeatInterval))
    }

    mutating func record(_ peer: String, _ result: CallResult) {
        if let line = peers.record(peer, result, now: now) { log(.info, line) }
    }

    private mutating func received(_ id: CallID, _ result: CallResult) {
        guard let purpose = calls.close(id) else { return }
        switch purpose {
        case .heartbeat(let peer):
            peers.heartbeatEnded(peer)
            record(peer, result)
            if case .answered(.status(let status), _) = result, let membership = status.membership {
                adopt(membership)
            }
        case .buy(let requestId, let step, let replica):
            record(replica, result)
            buyReplied(requestId, step: step, replica: replica, result)
        case .delivery(let requestId, let token, let replica):
            record(replica, result)
            deliveryReplied(requestId, token: token, replica: replica, result)
        case .recoverLog(let peer, let request):
            record(peer, result)
            recoveryLogReplied(peer, request, result)
        case .release(let rid):
            let left = (releasing[rid] ?? 1) - 1
            if left <= 0 { releasing.removeValue(forKey: rid) } else { releasing[rid] = left }
        case .vote(let voter, let preparing, let ballot):
            record(voter, result)
            var answer: VoteResponse?
            if case .answered(.vote(let vote), _) = result { answer = vote }
            voted(voter, preparing: preparing, ballot: ballot, answer)
        case .pull(let peer, let request):
            record(peer, result)
            guard case .answered(.log(let snapshot), _) = result else {
                pulling.remove(peer)
                return
            }
            persist(log.mutationsToMerge(orders: snapshot.orders, rejections: snapshot.rejections))
            if let next = snapshot.next {
                let following = request.following(next)
                log(.debug, "anti-entropy: asking \(peer) for the next page of its log")
                call(peer, .listOrders(following), .pull(peer, following), timeout: timing.resyncTimeout)
            } else {
                pulling.remove(peer)
            }
        }
    }

    // MARK: Serving

    private mutating func serve(_ id: InboundID, _ request: PeerRequest) {
        switch request {
        case .heartbeat:
            answer(id, .status(status))
        case .buy(let buy):
            self.buy(buy, id)
        case .resolve(let request):
            if let record = log.orders[request.requestId] {
                let buy = CommittedBuy(record)
                return answer(id, .resolution(.committed(buy)))
            }
            if buys[request.requestId] != nil { abortRequested.insert(request.requestId) }
            answer(id, .resolution(.aborted))
        case .replicate(let request):
            persist(log.mutationsToMerge(orders: request.orders, rejections: request.rejections))
            answer(id, .ok)
        case .listOrders(let request):
            if let limit = request.limit {
                return answer(
                    id,
                    .log(log.syncPage(since: request.since ?? .min, from: request.from, limit: max(1, limit)))
                )
            }
            answer(
                id,
                .log(
                    OrderLogSnapshot(
                        orders: log.orders(after: request.after, since: request.since),
                        rejections: request.after == 0
                            ? log.rejections.values.filter { $0.timeMicros == nil || $0.time >= request.since ?? .min }
                                .sorted { $0.requestId < $1.requestId } : []
                    )
                )
            )
        case .join(let request):
            joinBarrier(request.catalog, id)
        case .prepare, .accept, .learn:
            answer(id, vote(request))
        case .hold, .commit, .abort, .restock, .setCost, .lookup, .search, .snapshot, .subscribe:
            fail(id, BookstoreError(.invalidValue, "order replica \(config.name) does not serve \(request.name)"))
        }
    }

    mutating func answer(_ id: InboundID, _ response: PeerResponse) { effects.append(.answer(id, .success(response))) }
    mutating func fail(_ id: InboundID, _ error: BookstoreError) { effects.append(.answer(id, .failure(error))) }

    // MARK: The join barrier

    /// From now on every buy holds at `catalog` (it counts as up); answers once the buys that started
    /// without it have finished, or fails after `joinBarrierTimeout` (the catalog replica tries again).
    private mutating func joinBarrier(_ catalog: String, _ id: InboundID) {
        if let line = peers.markUp(catalog, now: now) { log(.info, line) }
        let blocking = buys.values.filter { !$0.targets.contains(catalog) }.map {
            "\($0.request.requestId) attempt \($0.attempt) \($0.machine.awaiting) gather \($0.gather.map { "\($0.kind) \($0.results.count)/\($0.expected.count)" } ?? "none")"
        }
        log(.debug, "join barrier for \(catalog)\(blocking.isEmpty ? "" : "; waiting for \(blocking.sorted())")")
        if barrierPassed(catalog) { return answer(id, .ok) }
        let barrier = nextBarrier
        nextBarrier += 1
        barriers[barrier] = (catalog, id)
        effects.append(.schedule(.barrierDeadline(barrier), after: timing.joinBarrierTimeout))
    }

    private func barrierPassed(_ catalog: String) -> Bool {
        !buys.values.contains { !$0.targets.contains(catalog) }
    }

    /// Answers the barriers that no running buy holds up any longer.
    mutating func checkBarriers() {
        guard !barriers.isEmpty else { return }
        for (barrier, (catalog, id)) in barriers.sorted(by: { $0.key < $1.key }) where barrierPassed(catalog) {
            barriers.removeValue(forKey: barrier)
            log(.debug, "join barrier for \(catalog) passed")
            answer(id, .ok)
        }
    }
}
