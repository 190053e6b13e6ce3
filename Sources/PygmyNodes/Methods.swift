import PygmyBookstore
import PygmyRPC

/// The bookstore's RPC methods. Names are part of the wire protocol (`Protocol/PROTOCOL.md`, section 6).
///
/// Frontend: the public API that clients and the `pygmy` command use.
public enum Frontend {
    public enum Search: RPCMethod {
        public typealias Request = SearchRequest
        public typealias Response = SearchResponse
        public static let name = "frontend.search"
    }
    public enum Lookup: RPCMethod {
        public typealias Request = LookupRequest
        public typealias Response = Book
        public static let name = "frontend.lookup"
    }
    public enum Buy: RPCMethod {
        public typealias Request = BuyRequest
        public typealias Response = BuyResponse
        public static let name = "frontend.buy"
    }
    public enum Orders: RPCMethod {
        public typealias Request = OrdersRequest
        public typealias Response = OrdersResponse
        public static let name = "frontend.orders"
    }
    /// Admin only: one page of the order log, from the order replica a cursor names.
    public enum OrdersPage: RPCMethod {
        public typealias Request = OrderPageRequest
        public typealias Response = OrderPage
        public static let name = "frontend.ordersPage"
    }
    /// Admin only.
    public enum Restock: RPCMethod {
        public typealias Request = RestockRequest
        public typealias Response = Book
        public static let name = "frontend.restock"
    }
    /// Admin only.
    public enum SetCost: RPCMethod {
        public typealias Request = SetCostRequest
        public typealias Response = Book
        public static let name = "frontend.setCost"
    }
    public enum Status: RPCMethod {
        public typealias Request = Empty
        public typealias Response = ClusterStatus
        public static let name = "frontend.status"
    }
}

/// Catalog replica methods.
public enum Catalog {
    public enum Search: RPCMethod {
        public typealias Request = SearchRequest
        public typealias Response = SearchResponse
        public static let name = "catalog.search"
    }
    public enum Lookup: RPCMethod {
        public typealias Request = LookupRequest
        public typealias Response = Book
        public static let name = "catalog.lookup"
    }
    /// Order replicas only: first phase of a buy.
    public enum Hold: RPCMethod {
        public typealias Request = HoldRequest
        public typealias Response = HoldOutcome
        public static let name = "catalog.hold"
    }
    /// Order replicas only.
    public enum Commit: RPCMethod {
        public typealias Request = CommittedBuy
        public typealias Response = Empty
        public static let name = "catalog.commit"
    }
    /// Order replicas only.
    public enum Abort: RPCMethod {
        public typealias Request = AbortRequest
        public typealias Response = Empty
        public static let name = "catalog.abort"
    }
    /// Admin (through the frontend).
    public enum Restock: RPCMethod {
        public typealias Request = RestockRequest
        public typealias Response = Book
        public static let name = "catalog.restock"
    }
    /// Admin (through the frontend).
    public enum SetCost: RPCMethod {
        public typealias Request = SetCostRequest
        public typealias Response = Book
        public static let name = "catalog.setCost"
    }
    /// Catalog peers only: the whole replica state, for resync.
    public enum Snapshot: RPCMethod {
        public typealias Request = SnapshotRequest
        public typealias Response = CatalogSnapshot
        public static let name = "catalog.snapshot"
    }
    /// Frontends: receive `Invalidated` pushes on this connection from now on.
    public enum Subscribe: RPCMethod {
        public typealias Request = Empty
        public typealias Response = Empty
        public static let name = "catalog.subscribe"
    }
    /// Pushed to subscribers before the replica changes an item.
    public enum Invalidated: RPCPushTopic {
        public typealias Message = Invalidation
        public static let name = "catalog.invalidated"
    }
}

/// Order replica methods.
public enum Order {
    /// Frontends: run a buy.
    public enum Buy: RPCMethod {
        public typealias Request = BuyRequest
        public typealias Response = BuyResponse
        public static let name = "order.buy"
    }
    public enum List: RPCMethod {
        public typealias Request = OrdersRequest
        public typealias Response = OrderLogSnapshot
        public static let name = "order.list"
    }
    /// Frontends and operators: one page of this replica's log, served from its SQLite store.
    public enum Page: RPCMethod {
        public typealias Request = OrderPageRequest
        public typealias Response = OrderPage
        public static let name = "order.page"
    }
    /// Order peers: merge orders and rejections.
    public enum Replicate: RPCMethod {
        public typealias Request = ReplicateRequest
        public typealias Response = Empty
        public static let name = "order.replicate"
    }
    /// Catalog replicas: the outcome of a hold's buy.
    public enum Resolve: RPCMethod {
        public typealias Request = ResolveRequest
        public typealias Response = Resolution
        public static let name = "order.resolve"
    }
    /// Catalog replicas that rejoin: include me from now on, and wait out buys that excluded me.
    public enum Join: RPCMethod {
        public typealias Request = JoinRequest
        public typealias Response = Empty
        public static let name = "order.join"
    }
}

/// Every node serves these.
public enum NodeMethods {
    public enum Health: RPCMethod {
        public typealias Request = Empty
        public typealias Response = NodeStatus
        public static let name = "node.health"
    }
    /// `node.health` as heartbeats call it: the same method, with a request that may ask for an answer
    /// without latency summaries (`HealthRequest.latencies == false`), which are the expensive part of a
    /// status. `Empty` and `HealthRequest()` have the same encoding, so `Health` callers reach the same
    /// handler, and a server that predates the field skips it and answers in full.
    public enum Heartbeat: RPCMethod {
        public typealias Request = HealthRequest
        public typealias Response = NodeStatus
        public static let name = Health.name
    }
}

/// The request of `node.health` (Protocol/PROTOCOL.md, section 6). A bare `Empty` is the same request
/// with every field left out.
public struct HealthRequest: Codable, Sendable, Hashable {
    /// `false`: leave `NodeStatus.latencies` empty (heartbeats only need the state). Left out or `true`:
    /// include them.
    public var latencies: Bool?

    public init(latencies: Bool? = nil) {
        self.latencies = latencies
    }

    /// Whether the answer should carry latency summaries.
    var wantsLatencies: Bool { latencies ?? true }
}

/// Membership changes (every catalog and order replica is a voter): single-decree Paxos per epoch.
public enum Consensus {
    public enum Prepare: RPCMethod {
        public typealias Request = PrepareRequest
        public typealias Response = VoteResponse
        public static let name = "membership.prepare"
    }
    public enum Accept: RPCMethod {
        public typealias Request = AcceptRequest
        public typealias Response = VoteResponse
        public static let name = "membership.accept"
    }
    /// A chosen membership, announced by its proposer.
    public enum Learn: RPCMethod {
        public typealias Request = Membership
        public typealias Response = Empty
        public static let name = "membership.learn"
    }
}
