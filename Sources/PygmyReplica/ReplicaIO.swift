import PygmyBookstore

/// Identifies one call a core makes to a peer; the reply comes back as `ReplicaInput.reply` with it.
public struct CallID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: CallID, b: CallID) -> Bool { a.raw < b.raw }
    public var description: String { "call#\(raw)" }
}

/// Identifies one inbound request, chosen by the shell; the core answers it with `ReplicaEffect.answer`.
public struct InboundID: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public var description: String { "in#\(raw)" }
}

/// Identifies the connection an inbound request came on (for push subscriptions).
public struct ConnectionID: Hashable, Sendable, Comparable {
    public let raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.raw < b.raw }
}

/// The role of a node in the topology.
public enum ReplicaRole: String, Sendable, Hashable, CaseIterable {
    case frontend, catalog, order
}

/// The time a core is given with each input. `monotonic` orders events within one life of the node
/// (timeouts, failure detection); `wallMicros` stamps what is stored (orders, holds) and may disagree
/// between nodes (the simulator gives each node a clock offset and drift).
public struct ReplicaTime: Sendable, Hashable {
    public var monotonic: Duration
    public var wallMicros: Int64
    public init(monotonic: Duration, wallMicros: Int64) {
        self.monotonic = monotonic
        self.wallMicros = wallMicros
    }
}

/// What one node asks another: one case per RPC method the nodes use between themselves, plus the
/// frontend's public operations (which the frontend core handles).
public enum PeerRequest: Sendable, Hashable {
    case heartbeat
    // Catalog replica.
    case hold(HoldRequest)
    case commit(CommittedBuy)
    case abort(AbortRequest)
    case restock(RestockRequest)
    case setCost(SetCostRequest)
    case lookup(LookupRequest)
    case search(SearchRequest)
    case snapshot(SnapshotRequest)
    case subscribe
    // Order replica (and the frontend's `buy`/`orders`).
    case buy(BuyRequest)
    case resolve(ResolveRequest)
    case replicate(ReplicateRequest)
    case listOrders(OrdersRequest)
    case join(JoinRequest)
    // Every replica (a voter on the membership).
    case prepare(PrepareRequest)
    case accept(AcceptRequest)
    case learn(Membership)

    /// The RPC method's name suffix, for logs.
    public var name: String {
        switch self {
        case .heartbeat: "heartbeat"
        case .hold: "hold"
        case .commit: "commit"
        case .abort: "abort"
        case .restock: "restock"
        case .setCost: "setCost"
        case .lookup: "lookup"
        case .search: "search"
        case .snapshot: "snapshot"
        case .subscribe: "subscribe"
        case .buy: "buy"
        case .resolve: "resolve"
        case .replicate: "replicate"
        case .listOrders: "list"
        case .join: "join"
        case .prepare: "prepare"
        case .accept: "accept"
        case .learn: "learn"
        }
    }
}

/// What a peer answered: the part of its status the cores act on.
public struct PeerStatus: Sendable, Hashable {
    /// "ready", "joining" (catalog) or "recovering" (order).
    public var state: String
    /// The replica's `ReplicaDigest` value.
    public var digest: UInt64?
    /// A voter's current membership, and what it accepted for the next epoch.
    public var membership: Membership?
    public var pending: Membership?
    /// A catalog replica's read lease left, as it answered.
    public var lease: Duration?
    /// Its part in agreeing fold horizons.
    public var fold: FoldReport?

    public init(
        state: String,
        digest: UInt64?,
        membership: Membership? = nil,
        pending: Membership? = nil,
        lease: Duration? = nil,
        fold: FoldReport? = nil
    ) {
        self.state = state
        self.digest = digest
        self.membership = membership
        self.pending = pending
        self.lease = lease
        self.fold = fold
    }
    public var isReady: Bool { state == "ready" }

    /// Whether this voter vouches for `catalog`'s read lease (as `MembershipAcceptor.vouches`).
    public func vouches(for catalog: String, epoch: UInt64) -> Bool {
        guard let membership, membership.epoch == epoch, membership.contains(catalog) else { return false }
        return pending.map { $0.contains(catalog) } ?? true
    }
}

/// Which committed buys of an item a read included: filled only when the core is told to record it
/// (the simulator's checker uses it to prove that no read misses an acknowledged buy).
public struct ReadWitness: Sendable, Hashable {
    /// The item's commits the read counted, listed.
    public var committed: Set<String>
    /// Every commit decided before this time is counted too, folded (`FoldState`).
    public var foldedBefore: Int64
    public init(committed: Set<String>, foldedBefore: Int64 = 0) {
        self.committed = committed
        self.foldedBefore = foldedBefore
    }
}

/// A successful answer.
public enum PeerResponse: Sendable, Hashable {
    case ok
    case status(PeerStatus)
    case hold(HoldOutcome)
    case book(Book, ReadWitness?)
    case search(SearchResponse)
    case snapshot(CatalogSnapshot)
    case bought(BuyResponse)
    case resolution(Resolution)
    case log(OrderLogSnapshot)
    case vote(VoteResponse)
}

/// Why a call failed. One mapping from transport and RPC errors produces it (`CallFailure.init` in the
/// production shell); the simulator produces the same cases from its network model.
public enum CallFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing was listening: the connection was refused (the peer's process is not running).
    case refused(String)
    /// No answer: the connection could not be set up in time, or the call timed out. The peer may be
    /// alive (slow, hung, or on the other side of a partition).
    case unreachable(String)
    /// The connection was lost while the call was in flight: the call may or may not have run.
    case lost(String)
    /// The peer answered with an error.
    case error(BookstoreError)

    public var description: String {
        switch self {
        case .refused(let why): "refused (\(why))"
        case .unreachable(let why): "unreachable (\(why))"
        case .lost(let why): "connection lost (\(why))"
        case .error(let error): "\(error.code): \(error.message)"
        }
    }

    /// Whether the failure proves nothing is running there (only a refused connection does).
    public var provesDown: Bool { if case .refused = self { true } else { false } }
}

/// The result of a call. `connection` is the generation of the connection that carried the answer, or
/// nil when the shell cannot tell (a reconnect happened during the call).
public enum CallResult: Sendable, Hashable {
    case answered(PeerResponse, connection: UInt64?)
    case failed(CallFailure)

    public var response: PeerResponse? {
        if case .answered(let response, _) = self { return response }
        return nil
    }
}

/// One input to a core.
public enum ReplicaInput<Timer: Hashable & Sendable>: Sendable {
    /// The node (re)starts: the core schedules its background work.
    case boot
    /// A request from a peer or a client; `connection` is where it came from.
    case request(InboundID, PeerRequest, connection: ConnectionID)
    /// The reply to (or the failure of) a call the core made.
    case reply(CallID, CallResult)
    /// A timer the core scheduled.
    case timer(Timer)
    /// A connection closed (its push subscriptions end with it).
    case connectionClosed(ConnectionID)
    /// A catalog replica pushed an invalidation (frontend only).
    case invalidated(Invalidation)
}

/// Log levels of `ReplicaEffect.log`.
public enum ReplicaLogLevel: Sendable, Hashable {
    case debug, info, warning
}

/// What a core asks its shell to do, in order. A `persist` must be durable before any effect after it
/// (of the same input) is carried out; if it fails, the node must stop (and restart from what is durable).
public enum ReplicaEffect<Mutation: Sendable & Hashable, Timer: Hashable & Sendable>: Sendable, Hashable {
    case persist([Mutation])
    /// Make the voter's membership state durable (before anything after it).
    case persistMembership(MembershipAcceptor)
    case call(CallID, peer: String, PeerRequest, timeout: Duration)
    case answer(InboundID, Result<PeerResponse, BookstoreError>)
    case push(ConnectionID, Invalidation)
    case schedule(Timer, after: Duration)
    /// A point inside a buy where tests stop the node as if it died there.
    case checkpoint(BuyCheckpoint)
    case log(ReplicaLogLevel, String)
}
