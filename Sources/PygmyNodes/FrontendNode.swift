import Foundation
import Logging
import PygmyBookstore
import PygmyRPC
import Synchronization

/// The frontend: the only node clients talk to. Serves search and lookup from its read cache, spreads
/// requests over live replicas round robin, retries on another replica when one fails mid-call, and
/// keeps its cache correct with the catalog replicas' invalidation pushes and its own writes. The
/// deterministic simulation re-creates it in `PygmySimulation/SimFrontend.swift`: keep them in step.
public final class FrontendNode: Sendable {
    public let spec: NodeSpec
    let topology: Topology
    let peers: Peers
    let latency = LatencyRecorder()
    private let logger: Logger
    private let started = ContinuousClock.now
    private let cache: Mutex<ReadCache<CachedValue>>
    /// The connection generation of each catalog client when we last subscribed on it.
    private let subscribedGeneration = Mutex<[String: Int]>([:])

    enum CachedValue: Sendable {
        case search(SearchResponse)
        case book(Book)
    }

    init(spec: NodeSpec, topology: Topology, peers: Peers, logger: Logger) {
        self.spec = spec
        self.topology = topology
        self.peers = peers
        self.logger = logger
        self.cache = Mutex(ReadCache(capacity: topology.cacheCapacity ?? 1024, enabled: spec.cache ?? true))
        for name in peers.names(.catalog) {
            peers.client(name).onPush(Catalog.Invalidated.self) { [weak self] invalidation in
                self?.cache.withLock {
                    $0.invalidate(.lookup(item: invalidation.item))
                    $0.invalidate(.search(topic: invalidation.topic.lowercased()))
                }
            }
        }
    }

    // MARK: Reads

    func search(_ request: SearchRequest) async throws -> SearchResponse {
        let key = CacheKey.search(topic: request.topic.lowercased())
        let lookup = cache.withLock { $0.get(key) }
        if case .hit(.search(let response)) = lookup { return response }
        let response = try await onSomeReplica(.catalog) { try await self.peers.call($0, Catalog.Search.self, request) }
        if case .miss(let ticket) = lookup { cache.withLock { $0.fill(ticket, .search(response)) } }
        return response
    }

    func lookup(_ request: LookupRequest) async throws -> Book {
        let key = CacheKey.lookup(item: request.item)
        let lookup = cache.withLock { $0.get(key) }
        if case .hit(.book(let book)) = lookup { return book }
        let book = try await onSomeReplica(.catalog) { try await self.peers.call($0, Catalog.Lookup.self, request) }
        if case .miss(let ticket) = lookup { cache.withLock { $0.fill(ticket, .book(book)) } }
        return book
    }

    func orders(_ request: OrdersRequest) async throws -> OrdersResponse {
        let log = try await onSomeReplica(.order) { try await self.peers.call($0, Order.List.self, request) }
        return OrdersResponse(orders: log.orders)
    }

    // MARK: Writes

    /// Forwards a buy to an order replica, retrying with the same request id on another replica (or
    /// later) when the outcome is not known; so a buy is never applied twice and never silently lost.
    func buy(_ request: BuyRequest) async throws -> BuyResponse {
        guard request.quantity > 0 else {
            throw BookstoreError(.invalidValue, "quantity must be positive, not \(request.quantity)")
        }
        guard request.item > 0 else { throw BookstoreError(.unknownItem, "no book with item number \(request.item)") }
        let deadline = ContinuousClock.now + .seconds(10)
        defer { invalidate(item: request.item) }
        // Retrying with the same request id is safe (the order replicas dedupe it), so keep trying until
        // the outcome is known or the deadline passes.
        while true {
            do {
                return try await onSomeReplica(.order) { try await self.peers.call($0, Order.Buy.self, request) }
            } catch let error as RPCError
                where Self.isRetryable(error) || error.code.rawValue == BookstoreError.Code.inProgress.rawValue
            {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            } catch let error as TransportError {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func restock(_ request: RestockRequest) async throws -> Book {
        try await onEveryReplica { try await self.peers.call($0, Catalog.Restock.self, request) }
    }

    func setCost(_ request: SetCostRequest) async throws -> Book {
        try await onEveryReplica { try await self.peers.call($0, Catalog.SetCost.self, request) }
    }

    private func invalidate(item: ItemID) {
        cache.withLock { $0.invalidate(.lookup(item: item)) }
    }

    /// Applies an admin write on every live catalog replica (each applies it once, by op id); replicas
    /// that are down catch up when they rejoin.
    private func onEveryReplica(_ body: @escaping @Sendable (String) async throws -> Book) async throws -> Book {
        let replicas = peers.up(.catalog)
        guard !replicas.isEmpty else { throw BookstoreError(.unavailable, "no catalog replica is up") }
        var result: Result<Book, any Error>?
        await withTaskGroup(of: Result<Book, any Error>.self) { group in
            for replica in replicas {
                group.addTask {
                    do { return .success(try await body(replica)) } catch { return .failure(error) }
                }
            }
            for await outcome in group {
                if case .success = outcome { result = outcome } else if result == nil { result = outcome }
            }
        }
        if let book = try? result?.get() { invalidate(item: book.item) }
        return try result!.get()
    }

    /// Runs `body` on the live replicas of `role` in round-robin order until one answers. Moves on to the
    /// next replica when one is unreachable, failing or still resynchronising.
    private func onSomeReplica<T: Sendable>(_ role: NodeRole, _ body: (String) async throws -> T) async throws -> T {
        var candidates = peers.rotation(role)
        if candidates.isEmpty { candidates = peers.names(role) }  // no heartbeat yet: try them all
        var lastError: (any Error)?
        for replica in candidates {
            do {
                return try await body(replica)
            } catch let error as RPCError where !Self.isRetryable(error) {
                throw error
            } catch {
                lastError = error
            }
        }
        throw lastError ?? BookstoreError(.unavailable, "no \(role.rawValue) replica is up")
    }

    static func isRetryable(_ error: RPCError) -> Bool {
        switch error.code {
        case .unavailable, .deadlineExceeded, .internalError: return true
        default:
            let app = error.code.rawValue
            return app == BookstoreError.Code.notReady.rawValue || app == BookstoreError.Code.unavailable.rawValue
        }
    }

    // MARK: Status and background work

    func status() async -> ClusterStatus {
        var nodes = [ownStatus()]
        var unreachable: [String] = []
        await withTaskGroup(of: (String, NodeStatus?).self) { group in
            for name in peers.peers.keys.sorted() {
                group.addTask {
                    (
                        name,
                        try? await self.peers.client(name).call(NodeMethods.Health.self, Empty(), timeout: .seconds(1))
                    )
                }
            }
            for await (name, status) in group {
                if let status { nodes.append(status) } else { unreachable.append(name) }
            }
        }
        return ClusterStatus(nodes: nodes.sorted { $0.name < $1.name }, unreachable: unreachable.sorted())
    }

    /// This node's own status; heartbeats ask for it without latency summaries, the costly part.
    func ownStatus(latencies: Bool = true) -> NodeStatus {
        let (hits, misses) = cache.withLock { ($0.hits, $0.misses) }
        let (up, down) = peers.peerNamesByState()
        var status = NodeStatus(
            name: spec.name,
            role: NodeRole.frontend.rawValue,
            address: spec.address,
            state: "ready",
            uptimeSeconds: CatalogNode.seconds(ContinuousClock.now - started),
            cacheHits: hits,
            cacheMisses: misses,
            latencies: latencies ? latency.summaries() : [],
            peersUp: up,
            peersDown: down
        )
        status.version = PygmyVersion.current
        return status
    }

    /// Subscribes to invalidations on every catalog connection that is new since the last subscription.
    /// A new connection may have missed pushes, so the cache is emptied when one is (re)subscribed.
    func maintainSubscriptions() async {
        for name in peers.up(.catalog) {
            let client = peers.client(name)
            let generation = client.connectionGeneration
            guard subscribedGeneration.withLock({ $0[name] }) != generation else { continue }
            do {
                _ = try await client.call(Catalog.Subscribe.self, Empty(), timeout: .seconds(1))
                subscribedGeneration.withLock { $0[name] = client.connectionGeneration }
                cache.withLock { $0.removeAll() }
                logger.debug("subscribed to invalidations", metadata: ["catalog": "\(name)"])
            } catch {
                logger.debug("subscription failed", metadata: ["catalog": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Optional periodic restock of every item (the original store's restock thread).
    func periodicRestock(count: Int) async {
        for item in ((try? topology.seedBooks()) ?? []).map(\.item) {
            let opId = "auto-\(spec.name)-\(item)-\(CatalogNode.wallMicros())"
            _ = try? await restock(RestockRequest(item: item, count: count, opId: opId))
        }
    }
}
