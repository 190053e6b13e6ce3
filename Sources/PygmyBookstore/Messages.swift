/// Request and response types of the bookstore's RPC methods. Field order and names are part of the
/// wire protocol (`Protocol/PROTOCOL.md`, "Bookstore messages"): add only optional fields.

public struct SearchRequest: Codable, Sendable, Hashable {
    public var topic: String
    public init(topic: String) { self.topic = topic }
}

public struct SearchResponse: Codable, Sendable, Hashable {
    public var items: [BookSummary]
    public init(items: [BookSummary]) { self.items = items }
}

public struct LookupRequest: Codable, Sendable, Hashable {
    public var item: ItemID
    public init(item: ItemID) { self.item = item }
}

public struct BuyRequest: Codable, Sendable, Hashable {
    public var item: ItemID
    public var quantity: Int
    /// Chosen by the client; retries with the same id return the first outcome.
    public var requestId: String

    public init(item: ItemID, quantity: Int, requestId: String) {
        self.item = item
        self.quantity = quantity
        self.requestId = requestId
    }
}

public struct BuyResponse: Codable, Sendable, Hashable {
    public var order: Int
    public var item: ItemID
    public var quantity: Int
    /// Total paid.
    public var cost: Int
    public var requestId: String
    /// True when this answer repeats an outcome decided earlier for the same request id (a retry, or the
    /// frontend's own retry after a failover); absent when this call decided it.
    public var replayed: Bool?

    public init(order: Int, item: ItemID, quantity: Int, cost: Int, requestId: String, replayed: Bool? = nil) {
        self.order = order
        self.item = item
        self.quantity = quantity
        self.cost = cost
        self.requestId = requestId
        self.replayed = replayed
    }

    /// The outcome without the `replayed` mark: what a retry must agree on with the first answer.
    public var decided: BuyResponse {
        var outcome = self
        outcome.replayed = nil
        return outcome
    }

    public init(_ record: OrderRecord) {
        self.init(
            order: record.order,
            item: record.item,
            quantity: record.quantity,
            cost: record.total,
            requestId: record.requestId
        )
    }
}

public struct RestockRequest: Codable, Sendable, Hashable {
    public var item: ItemID
    public var count: Int
    /// Identifies the operation so a retry (or a replica sync) applies it once.
    public var opId: String
    /// The membership epoch the frontend writes at (absent from clients): a catalog replica applies the
    /// write only as a member of that epoch, as for holds (PROTOCOL.md §6.6).
    public var epoch: UInt64?

    public init(item: ItemID, count: Int, opId: String, epoch: UInt64? = nil) {
        self.item = item
        self.count = count
        self.opId = opId
        self.epoch = epoch
    }
}

public struct SetCostRequest: Codable, Sendable, Hashable {
    public var item: ItemID
    public var cost: Int
    public var opId: String
    /// Orders concurrent price changes: the highest wins on every replica. The frontend uses its clock
    /// in microseconds since 1970.
    public var version: Int64
    /// As `RestockRequest.epoch`.
    public var epoch: UInt64?

    public init(item: ItemID, cost: Int, opId: String, version: Int64, epoch: UInt64? = nil) {
        self.item = item
        self.cost = cost
        self.opId = opId
        self.version = version
        self.epoch = epoch
    }
}

public struct OrdersRequest: Codable, Sendable, Hashable {
    /// Only orders with a larger order number; 0 for all.
    public var after: Int
    /// Only orders decided at or after this time (microseconds since 1970): replicas syncing ask only
    /// for what follows the folded horizon (PROTOCOL.md §6.7). Absent: every order.
    public var since: Int64?
    /// A sync page (PROTOCOL.md §6.7): at most this many orders, oldest first, after `from`. Absent: the
    /// whole answer at once (an admin's listing).
    public var limit: Int?
    public var from: SyncCursor?

    public init(after: Int = 0, since: Int64? = nil, limit: Int? = nil, from: SyncCursor? = nil) {
        self.after = after
        self.since = since
        self.limit = limit
        self.from = from
    }

    /// A sync's first page of `limit` orders, from the folded horizon `since`.
    public static func sync(since: Int64, limit: Int) -> OrdersRequest {
        OrdersRequest(since: since, limit: limit)
    }

    /// The page after the one that answered `next`.
    public func following(_ next: SyncCursor) -> OrdersRequest {
        var request = self
        request.from = next
        return request
    }
}

/// Where a sync page ended: its last order's decision time and request id (orders are paged in that
/// order).
public struct SyncCursor: Codable, Sendable, Hashable, Comparable {
    public var timeMicros: Int64
    public var requestId: String

    public init(timeMicros: Int64, requestId: String) {
        self.timeMicros = timeMicros
        self.requestId = requestId
    }

    public init(_ record: OrderRecord) { self.init(timeMicros: record.timeMicros, requestId: record.requestId) }

    public static func < (a: SyncCursor, b: SyncCursor) -> Bool {
        (a.timeMicros, a.requestId) < (b.timeMicros, b.requestId)
    }
}

public struct OrdersResponse: Codable, Sendable, Hashable {
    public var orders: [OrderRecord]
    public init(orders: [OrderRecord]) { self.orders = orders }
}

/// One page of an order replica's log, in the order the replica learnt the orders (its append
/// sequence), optionally of one item (PROTOCOL.md §6.3).
public struct OrderPageRequest: Codable, Sendable, Hashable {
    /// Orders on the page: 1...`OrderPaging.maxLimit`.
    public var limit: Int
    /// Where the previous page ended (its `next`); absent for the first page.
    public var cursor: String?
    /// Only orders of this item.
    public var item: ItemID?

    public init(limit: Int, cursor: String? = nil, item: ItemID? = nil) {
        self.limit = limit
        self.cursor = cursor
        self.item = item
    }
}

public struct OrderPage: Codable, Sendable, Hashable {
    public var orders: [OrderRecord]
    /// The cursor of the next page; absent on the last page.
    public var next: String?

    public init(orders: [OrderRecord], next: String?) {
        self.orders = orders
        self.next = next
    }
}

/// The cursor of an order page: opaque to clients, `<replica>:<sequence>` inside. A replica's append
/// sequence only grows, and an order gets its number there once, so paging from a cursor never misses or
/// repeats an order, even while buys go on; orders learnt after a page was read come on later pages.
public enum OrderPaging {
    public static let maxLimit = 10_000

    public static func cursor(replica: String, sequence: Int64) -> String { "\(replica):\(sequence)" }

    /// The replica and sequence a cursor names, or nil for a string that is not a cursor.
    public static func parse(_ cursor: String) -> (replica: String, sequence: Int64)? {
        guard let colon = cursor.lastIndex(of: ":"), colon != cursor.startIndex,
            let sequence = Int64(cursor[cursor.index(after: colon)...]), sequence >= 0,
            String(sequence) == cursor[cursor.index(after: colon)...]
        else { return nil }
        return (String(cursor[..<colon]), sequence)
    }

    /// Checks a request's limit and cursor; `replica` is the one serving it, when known.
    public static func validate(_ request: OrderPageRequest, at replica: String? = nil) throws(BookstoreError) {
        guard (1...maxLimit).contains(request.limit) else {
            throw BookstoreError(.invalidValue, "limit must be 1...\(maxLimit), not \(request.limit)")
        }
        guard let cursor = request.cursor else { return }
        guard let parsed = parse(cursor) else {
            throw BookstoreError(
                .invalidValue,
                "\"\(cursor)\" is not a cursor of an order page; pass the `next` of a page, or start without one"
            )
        }
        if let replica, parsed.replica != replica {
            throw BookstoreError(
                .invalidValue,
                "cursor \"\(cursor)\" belongs to order replica \(parsed.replica), not \(replica); ask through the frontend"
            )
        }
    }
}

/// A catalog replica asks the coordinator of a hold for the buy's outcome.
public struct ResolveRequest: Codable, Sendable, Hashable {
    public var requestId: String
    public init(requestId: String) { self.requestId = requestId }
}

public enum Resolution: Codable, Sendable, Hashable {
    case committed(CommittedBuy)
    /// No commit exists at this replica and, if it coordinates the id, none ever will.
    case aborted
    /// This replica is not the coordinator and knows no commit (ask the coordinator).
    case unknown
}

public struct HoldRequest: Codable, Sendable, Hashable {
    public var requestId: String
    public var item: ItemID
    public var quantity: Int
    public var coordinator: String
    /// The membership epoch the coordinator holds in: a catalog replica at another epoch, or not a member
    /// of it, refuses the hold (`staleEpoch`). Absent: any epoch (older coordinators).
    public var epoch: UInt64?
    /// The coordinator's attempt (a stamp that grows with each attempt it starts): a release names the
    /// attempt it is for, and removes no hold of a later one. Absent: older coordinators.
    public var attempt: Int64?

    public init(
        requestId: String,
        item: ItemID,
        quantity: Int,
        coordinator: String,
        epoch: UInt64? = nil,
        attempt: Int64? = nil
    ) {
        self.requestId = requestId
        self.item = item
        self.quantity = quantity
        self.coordinator = coordinator
        self.epoch = epoch
        self.attempt = attempt
    }
}

public struct AbortRequest: Codable, Sendable, Hashable {
    public var requestId: String
    public var coordinator: String
    /// True when the buy was refused for good (the replica then refuses every later hold for the id).
    /// Optional on the wire: absent means false.
    public var final: Bool?
    /// The coordinator's attempt it releases (`HoldRequest.attempt`): a hold of a later attempt stays, so a
    /// late or duplicated release of an earlier attempt cannot remove the hold the next one relies on.
    /// Absent: any hold of this coordinator.
    public var attempt: Int64?
    /// With `final`: the refusal's stamp, the one the coordinator records it under in its log. Catalog
    /// replicas fold refusals stamped before a folded horizon (PROTOCOL.md §6.7). Absent (older
    /// coordinators): never folded.
    public var refusedAt: Int64?

    public init(
        requestId: String,
        coordinator: String,
        final: Bool? = nil,
        attempt: Int64? = nil,
        refusedAt: Int64? = nil
    ) {
        self.requestId = requestId
        self.coordinator = coordinator
        self.final = final
        self.attempt = attempt
        self.refusedAt = refusedAt
    }
}

/// Merges a peer's orders and rejections (order replication and resync).
public struct ReplicateRequest: Codable, Sendable, Hashable {
    public var orders: [OrderRecord]
    public var rejections: [Rejection]

    public init(orders: [OrderRecord], rejections: [Rejection]) {
        self.orders = orders
        self.rejections = rejections
    }
}

public struct OrderLogSnapshot: Codable, Sendable, Hashable {
    public var orders: [OrderRecord]
    public var rejections: [Rejection]
    /// A sync page that is not the last: ask again `from` this cursor (the refusals come with the last).
    public var next: SyncCursor?

    public init(orders: [OrderRecord], rejections: [Rejection], next: SyncCursor? = nil) {
        self.orders = orders
        self.rejections = rejections
        self.next = next
    }
}

/// A catalog replica that is joining asks each order replica to include it in every new buy and to
/// finish the buys that started without it.
public struct JoinRequest: Codable, Sendable, Hashable {
    public var catalog: String
    public init(catalog: String) { self.catalog = catalog }
}

/// Pushed by a catalog replica to subscribed frontends before it changes an item.
public struct Invalidation: Codable, Sendable, Hashable {
    public var item: ItemID
    public var topic: String

    public init(item: ItemID, topic: String) {
        self.item = item
        self.topic = topic
    }
}

/// A latency summary of one operation at one node.
public struct LatencySummary: Codable, Sendable, Hashable {
    public var operation: String
    public var count: Int
    public var meanMicros: Double
    public var p50Micros: Int
    public var p99Micros: Int

    public init(operation: String, count: Int, meanMicros: Double, p50Micros: Int, p99Micros: Int) {
        self.operation = operation
        self.count = count
        self.meanMicros = meanMicros
        self.p50Micros = p50Micros
        self.p99Micros = p99Micros
    }
}

/// One item's copies at a catalog replica.
public struct ItemStock: Codable, Sendable, Hashable {
    public var item: ItemID
    public var onHand: Int
    public var held: Int

    public init(item: ItemID, onHand: Int, held: Int) {
        self.item = item
        self.onHand = onHand
        self.held = held
    }
}

/// What a node says about itself.
public struct NodeStatus: Codable, Sendable, Hashable {
    public var name: String
    public var role: String
    public var address: String
    /// `ready`, `joining` (catalog resync), or `recovering`.
    public var state: String
    public var uptimeSeconds: Double
    public var cacheHits: Int?
    public var cacheMisses: Int?
    public var latencies: [LatencySummary]
    /// Peers this node considers up or down, by name.
    public var peersUp: [String]
    public var peersDown: [String]
    /// Catalog replicas: copies per item.
    public var stock: [ItemStock]?
    /// Order replicas: the number of orders in the log.
    public var orderCount: Int?
    /// Replicas: the fingerprint of their mergeable state (`ReplicaDigest`); anti-entropy pulls from a peer
    /// only when it differs from its own.
    public var digest: UInt64?
    /// The node's Pygmy version (absent from nodes older than 0.5).
    public var version: String?
    /// Replicas: the current membership (which catalog replicas take part in buys, and its epoch).
    public var membership: Membership?
    /// Replicas: a membership this voter accepted for the next epoch, not yet known to be chosen.
    public var pendingMembership: Membership?
    /// Catalog replicas: how much of their read lease was left when they answered, in milliseconds
    /// (absent: no lease; the replica serves no reads).
    public var leaseMillis: Int?
    /// Replicas: their part in agreeing fold horizons (PROTOCOL.md §6.7); absent from older nodes.
    public var fold: FoldReport?

    public init(
        name: String,
        role: String,
        address: String,
        state: String,
        uptimeSeconds: Double,
        cacheHits: Int? = nil,
        cacheMisses: Int? = nil,
        latencies: [LatencySummary] = [],
        peersUp: [String] = [],
        peersDown: [String] = [],
        stock: [ItemStock]? = nil,
        orderCount: Int? = nil,
        digest: UInt64? = nil
    ) {
        self.name = name
        self.role = role
        self.address = address
        self.state = state
        self.uptimeSeconds = uptimeSeconds
        self.cacheHits = cacheHits
        self.cacheMisses = cacheMisses
        self.latencies = latencies
        self.peersUp = peersUp
        self.peersDown = peersDown
        self.stock = stock
        self.orderCount = orderCount
        self.digest = digest
    }
}

/// The frontend's view of the whole cluster.
public struct ClusterStatus: Codable, Sendable, Hashable {
    public var nodes: [NodeStatus]
    /// Nodes that did not answer, by name.
    public var unreachable: [String]

    public init(nodes: [NodeStatus], unreachable: [String]) {
        self.nodes = nodes
        self.unreachable = unreachable
    }
}

public struct Empty: Codable, Sendable, Hashable {
    public init() {}
}
