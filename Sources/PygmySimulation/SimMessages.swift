import PygmyBookstore

/// A book as a read returned it, with what the simulator needs to judge it: the request ids of the
/// committed buys of that item the answering state included.
struct SimBook {
    var book: Book
    var committed: Set<String>
}

/// A node's answer to a heartbeat: the part of `NodeStatus` the nodes act on.
struct SimStatus {
    var ready: Bool
    /// Bumped at every restart: a new incarnation is a new connection (pushes to the old one are lost).
    var incarnation: Int
    /// The replica's `ReplicaDigest`, as in `NodeStatus.digest`.
    var digest: UInt64? = nil
}

/// The requests nodes send each other, one case per RPC method the real nodes use.
enum SimRequest {
    case heartbeat
    // Catalog replica.
    case hold(HoldRequest)
    case commit(CommittedBuy)
    case abort(AbortRequest)
    case restock(RestockRequest)
    case lookup(ItemID)
    case snapshot
    case subscribe
    // Order replica.
    case buy(BuyRequest)
    case resolve(ResolveRequest)
    case replicate(ReplicateRequest)
    case listOrders
    case join(JoinRequest)
}

enum SimResponse {
    case ok
    case status(SimStatus)
    case hold(HoldOutcome)
    case book(SimBook)
    case snapshot(CatalogSnapshot)
    case bought(BuyResponse)
    case resolution(Resolution)
    case log(OrderLogSnapshot)
    case error(BookstoreError)
}

/// How a call ended for the caller.
enum SimReply {
    case response(SimResponse)
    /// No answer: `definite` when the peer was certainly not there (connection refused), otherwise a
    /// timeout (the peer, or the network, may only be slow).
    case failed(definite: Bool, String)

    var failureIsDefinite: Bool? {
        if case .failed(let definite, _) = self { return definite }
        return nil
    }
}

/// The kinds of simulated node (the real topology's roles).
enum SimRole: String, CaseIterable {
    case frontend, catalog, order
}
