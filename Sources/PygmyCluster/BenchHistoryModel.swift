import Foundation

// The figures of `pygmy bench --only history` (issue 14), as written to `latest.json`.

/// The history sizes measured when `--history-sizes` is not given.
public enum BenchHistoryDefaults {
    public static let sizes = [10_000, 100_000, 1_000_000, 2_000_000]
}

/// A replica killed (SIGKILL) and started again on the same data directory.
public struct HistoryRestart: Codable, Sendable {
    public var node: String
    /// Process started → it answers `node.health` (it has loaded its store and bound its port).
    public var listeningMillis: Double?
    /// Process started → its `node.health` state is `ready` (a catalog replica has rejoined, an order
    /// replica has merged its peers' logs). Nil: not within `timeoutSeconds`.
    public var readyMillis: Double?
    public var timeoutSeconds: Double
    /// VmRSS of the restarted process once ready (or at the timeout), KiB.
    public var rssKiB: Int?
}

/// The size of one answer a rejoin or an anti-entropy pull fetches, as the bench fetched it itself.
public struct HistoryAnswer: Codable, Sendable {
    /// The replica that answered.
    public var node: String
    /// `catalog.snapshot` or `order.list` (with `after: 0`, as rejoin and anti-entropy ask).
    public var method: String
    /// The answer's payload, encoded by `BinaryEncoder` as the node sends it (the frame header and the
    /// RPC envelope, a few bytes, not counted). Nil: the call failed.
    public var bytes: Int?
    /// The call as the bench timed it (a client on the same host, answer up to 1 GiB accepted).
    public var millis: Double?
    public var error: String?
}

/// The whole log of one order replica read in pages of `limit` orders after the restarts.
public struct HistoryPaging: Codable, Sendable {
    public var limit: Int
    public var pages: Int
    /// Distinct request ids seen, and how many came more than once (must be 0).
    public var orders: Int
    public var repeated: Int
    public var seconds: Double
    public var error: String?

    public init(limit: Int) {
        self.limit = limit
        self.pages = 0
        self.orders = 0
        self.repeated = 0
        self.seconds = 0
    }
}

/// Everything measured for one history size.
public struct HistoryPoint: Codable, Sendable {
    /// Orders in the log (each one copy of one of the seed books).
    public var orders: Int
    /// Writing the history into the four data directories (`HistoryLoader`, batches of `batchOrders`).
    public var loadSeconds: Double
    public var batchOrders: Int
    /// Every node started → the frontend reports every node ready. Nil: not within the timeout.
    public var startSeconds: Double?
    /// VmRSS of each replica's process after start-up (`/proc/PID/status`), KiB.
    public var rssKiB: [String: Int]
    /// The answers a rejoin fetches, from each replica.
    public var answers: [HistoryAnswer]
    /// Bytes a catalog replica's rejoin fetches: one ready peer's snapshot and every order replica's log.
    public var catalogRejoinBytes: Int?
    /// Bytes an order replica's recovery fetches: every peer order replica's log.
    public var orderRejoinBytes: Int?
    /// Bytes one anti-entropy pull moves when digests differ: a catalog replica pulls a peer's whole
    /// snapshot, an order replica a peer's whole log.
    public var catalogAntiEntropyBytes: Int?
    public var orderAntiEntropyBytes: Int?
    /// catalog-1, then order-1, each killed and restarted with the rest of the cluster up.
    public var restarts: [HistoryRestart]
    /// After the restarts: the whole log paged through the frontend (`frontend.ordersPage`, as
    /// `pygmy orders --limit 1000` does). Nil: not measured (an older run).
    public var paging: HistoryPaging?
    /// The loaded cluster agrees with the loaded history: the frontend's lookups show seed + restocks −
    /// committed, both catalog replicas (and both order replicas) report equal digests, and every order
    /// replica counts every order.
    public var consistent: Bool
    /// What did not agree, or did not work (empty when all went well).
    public var problems: [String]
}

/// The history experiment.
public struct HistoryResults: Codable, Sendable {
    public var points: [HistoryPoint] = []
}
