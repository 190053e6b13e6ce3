import PygmyBookstore

/// The frontend's decisions, as a pure state machine: one input at a time (with the time given),
/// effects out. The production shell (`PygmyNodes`) and the simulator shell run this same type.
///
/// It serves search and lookup from its read cache (filled from catalog replicas round robin, emptied
/// by their invalidation pushes and by its own writes), forwards buys to order replicas and retries
/// them with the same request id until their outcome is known, and applies admin writes at every live
/// catalog replica. See docs/DESIGN.md, "The frontend's read cache".
public struct FrontendCore: Sendable {
    public typealias Effect = ReplicaEffect<Never, Timer>
    public typealias Input = ReplicaInput<Timer>

    public enum Timer: Hashable, Sendable {
        case heartbeat, subscriptions
        case retryBuy(UInt64)
    }

    public struct Config: Sendable {
        public var name: String
        public var peers: [ReplicaRole: [String]]
        public var timing: ReplicaTiming
        public var cacheCapacity = 1024
        public var cacheEnabled = true

        public init(name: String, peers: [ReplicaRole: [String]], timing: ReplicaTiming) {
            self.name = name
            self.peers = peers
            self.timing = timing
        }
    }

    /// What the cache keeps.
    public enum CachedRead: Sendable {
        case search(SearchResponse)
        case book(Book, ReadWitness?)
    }

    enum Purpose: Sendable {
        case heartbeat(String, sentAt: Duration)
        case subscribe(String)
        case op(UInt64, replica: String)
    }

    /// A client request being served.
    struct Operation: Sendable {
        enum Kind: Sendable {
            case read(FillTicket?)
            case buy(BuyRequest, deadline: Duration)
            case admin(ItemID)
            case orders
        }
        var inbound: InboundID
        var request: PeerRequest
        var kind: Kind
        var role: ReplicaRole
        var candidates: [String] = []
        var failures: [String] = []
        var lastError: BookstoreError?
        var pending: Set<String> = []
        var results: [String: CallResult] = [:]
        /// Rounds of buy retries so far (the pause between rounds doubles, up to a limit).
        var rounds = 0
    }

    public let config: Config
    public internal(set) var peers: PeerTracker
    public internal(set) var cache: ReadCache<CachedRead>
    /// The connection generation each catalog subscription was made on.
    public internal(set) var subscribed: [String: UInt64] = [:]
    var subscribing: Set<String> = []
    /// Until when each catalog replica holds a read lease, as far as this frontend can tell (the send time
    /// of the heartbeat it answered plus the lease it had left).
    var leases: [String: Duration] = [:]
    /// The newest membership the replicas' heartbeats reported: admin writes go to its catalog members.
    public internal(set) var membership: Membership?
    var calls = CallTable<Purpose>()
    var operations: [UInt64: Operation] = [:]
    var nextOperation: UInt64 = 1
    var roundRobin = 0
    var time: ReplicaTime
    var effects: [Effect] = []

    public init(config: Config, now: ReplicaTime) {
        self.config = config
        self.time = now
        self.peers = PeerTracker(byRole: config.peers, timing: config.timing, now: now.monotonic)
        self.cache = ReadCache(capacity: max(1, config.cacheCapacity), enabled: config.cacheEnabled)
    }

    var now: Duration { time.monotonic }
    var timing: ReplicaTiming { config.timing }

    public var status: PeerStatus { PeerStatus(state: "ready", digest: nil) }

    public mutating func handle(_ input: Input, at time: ReplicaTime) -> [Effect] {
        self.time = time
        switch input {
        case .boot:
            heartbeat()
            effects.append(.schedule(.subscriptions, after: timing.heartbeatInterval))
        case .request(let id, let request, _): serve(id, request)
        case .reply(let id, let result): received(id, result)
        case .timer(.heartbeat): heartbeat()
        case .timer(.subscriptions):
            maintainSubscriptions()
            effects.append(.schedule(.subscriptions, after: timing.heartbeatInterval))
        case .timer(.retryBuy(let op)):
            guard var operation = operations[op] else { break }
            operation.candidates = rotation(.order)
            operations[op] = operation
            tryNext(op)
        case .connectionClosed: break
        case .invalidated(let invalidation):
            cache.invalidate(.lookup(item: invalidation.item))
            cache.invalidate(.search(topic: invalidation.topic.lowercased()))
        }
        defer { effects = [] }
        return effects
    }

    private mutating func heartbeat() {
        for peer in peers.startHeartbeats() {
            effects.append(
                .call(
                    calls.open(.heartbeat(peer, sentAt: now)),
                    peer: peer,
                    .heartbeat,
                    timeout: timing.heartbeatTimeout
                )
            )
        }
        effects.append(.schedule(.heartbeat, after: timing.heartbeatInterval))
    }

    private mutating func record(_ peer: String, _ result: CallResult) {
        if let line = peers.record(peer, result, now: now) { effects.append(.log(.info, line)) }
        // Pushes travel on one connection: once it is gone (or replaced), the subscription is gone with
        // it, and pushes may have been missed.
        guard let generation = subscribed[peer] else { return }
        let replaced = peers.generations[peer].map { $0 != generation } ?? false
        var lost = false
        if case .failed(let failure) = result {
            switch failure {
            case .refused, .lost: lost = true
            case .unreachable, .error: break
            }
        }
        if replaced || lost {
            subscribed.removeValue(forKey: peer)
            cache.removeAll()
        }
    }

    /// Subscribes to invalidations on every live catalog replica whose connection has no subscription.
    /// A new subscription may have missed pushes, so the cache is emptied when one is made.
    private mutating func maintainSubscriptions() {
        for catalog in peers.up(.catalog, now: now) where subscribed[catalog] == nil && !subscribing.contains(catalog) {
            subscribing.insert(catalog)
            effects.append(
                .call(calls.open(.subscribe(catalog)), peer: catalog, .subscribe, timeout: timing.resolveTimeout)
            )
        }
    }

    private mutating func received(_ id: CallID, _ result: CallResult) {
        guard let purpose = calls.close(id) else { return }
        switch purpose {
        case .heartbeat(let peer, let sentAt):
            peers.heartbeatEnded(peer)
            record(peer, result)
            if case .answered(.status(let status), _) = result {
                if let lease = status.lease { leases[peer] = sentAt + lease } else { leases.removeValue(forKey: peer) }
                if let reported = status.membership, reported.epoch > (membership?.epoch ?? 0) { membership = reported }
            }
        case .subscribe(let catalog):
            subscribing.remove(catalog)
            record(catalog, result)
            if case .answered(.ok, let connection?) = result {
                subscribed[catalog] = connection
                cache.removeAll()
                effects.append(.log(.debug, "subscribed to invalidations from \(catalog)"))
            }
        case .op(let op, let replica):
            record(replica, result)
            operationReplied(op, replica, result)
        }
    }

    /// The live replicas of `role`, rotated so successive requests start at different ones (all of them
    /// when none looks up: no heartbeat has come back yet).
    mutating func rotation(_ role: ReplicaRole) -> [String] {
        let live = peers.upOrAll(role, now: now)
        guard !live.isEmpty else { return [] }
        roundRobin &+= 1
        let start = roundRobin % live.count
        return Array(live[start...] + live[..<start])
    }
}
