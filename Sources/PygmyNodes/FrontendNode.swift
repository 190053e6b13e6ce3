import Foundation
import Logging
import PygmyBookstore
import PygmyRPC
import PygmyReplica

/// The frontend: `FrontendCore` (the decisions, shared with the simulator) run by a `ReplicaShell` over
/// RPC: the read cache, buys retried until their outcome is known, admin writes at every live catalog
/// replica, subscriptions to their invalidation pushes. The cluster status it gathers for operators is
/// plain I/O, done here.
public final class FrontendNode: Sendable {
    public let spec: NodeSpec
    let topology: Topology
    let shell: ReplicaShell<FrontendCore>
    let latency = LatencyRecorder()
    private let clients: PeerClients
    private let started = ContinuousClock.now

    init(spec: NodeSpec, topology: Topology, clients: PeerClients, executor: NodeExecutor, logger: Logger) {
        self.spec = spec
        self.topology = topology
        self.clients = clients
        var config = FrontendCore.Config(name: spec.name, peers: clients.byRole, timing: topology.timing)
        config.cacheCapacity = topology.cacheCapacity ?? 1024
        config.cacheEnabled = spec.cache ?? true
        let shell = ReplicaShell(
            core: FrontendCore(config: config, now: .startOfLife),
            clients: clients,
            executor: executor,
            logger: logger,
            persist: { (_: [Never]) in },
            onStorageFailure: { _ in }
        )
        self.shell = shell
        for name in clients.byRole[.catalog] ?? [] {
            clients.client(name).onPush(Catalog.Invalidated.self) { invalidation in
                // Pushes arrive on the node's loop, where the shell runs.
                if executor.eventLoop.inEventLoop {
                    shell.assumeIsolated { $0.deliver(.invalidated(invalidation)) }
                } else {
                    Task(executorPreference: executor) { await shell.deliver(.invalidated(invalidation)) }
                }
            }
        }
    }

    /// Handles a client's request through the core.
    func handle(_ request: PeerRequest) async throws -> PeerResponse {
        try await shell.request(request, connection: nil).value()
    }

    /// One page of the order log. A page continues where its cursor says, at the order replica that
    /// made it (another replica learnt its orders in another order); a first page comes from the first
    /// order replica that answers. Plain forwarding: the listing decides nothing.
    func page(_ request: OrderPageRequest) async throws -> OrderPage {
        try OrderPaging.validate(request)
        let replicas = request.cursor.flatMap(OrderPaging.parse).map { [$0.replica] } ?? clients.byRole[.order] ?? []
        guard let known = clients.byRole[.order], replicas.allSatisfy(known.contains), !replicas.isEmpty else {
            throw BookstoreError(
                .invalidValue,
                "the cursor names no order replica of this cluster; start again without a cursor"
            )
        }
        var failures: [String] = []
        for replica in replicas {
            do {
                return try await clients.client(replica).call(
                    Order.Page.self,
                    request,
                    timeout: topology.timing.frontendCallTimeout
                )
            } catch let error as RPCError where error.code.rawValue == BookstoreError.Code.invalidValue.rawValue {
                throw BookstoreError(.invalidValue, error.message)
            } catch {
                failures.append("\(replica) \(CallFailure(error).brief)")
            }
        }
        let other =
            request.cursor == nil
            ? "" : "; to read another replica, start again without a cursor (its pages come in another order)"
        throw BookstoreError(
            .unavailable,
            "no order replica could answer (\(failures.joined(separator: "; ")))\(other); retry later"
        )
    }

    // MARK: Status and background work

    func status() async -> ClusterStatus {
        var nodes = [await ownStatus()]
        var unreachable: [String] = []
        await withTaskGroup(of: (String, NodeStatus?).self) { group in
            for name in clients.clients.keys.sorted() {
                group.addTask {
                    (
                        name,
                        try? await self.clients.client(name).call(
                            NodeMethods.Health.self,
                            Empty(),
                            timeout: .seconds(1)
                        )
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
    func ownStatus(latencies: Bool = true) async -> NodeStatus {
        let (hits, misses, byState) = await shell.inspect { core, now in
            (core.cache.hits, core.cache.misses, core.peers.byState(now: now))
        }
        var status = NodeStatus(
            name: spec.name,
            role: NodeRole.frontend.rawValue,
            address: spec.address,
            state: "ready",
            uptimeSeconds: (ContinuousClock.now - started).seconds,
            cacheHits: hits,
            cacheMisses: misses,
            latencies: latencies ? latency.summaries() : [],
            peersUp: byState.up,
            peersDown: byState.down
        )
        status.version = PygmyVersion.current
        return status
    }

    /// What the metrics mirror: peers and the cache's hits and misses.
    func metricsSample() async -> NodeMetricsSample {
        await shell.inspect { core, now in
            let peers = core.peers.byState(now: now)
            return NodeMetricsSample(
                peersUp: peers.up,
                peersDown: peers.down,
                cacheHits: core.cache.hits,
                cacheMisses: core.cache.misses
            )
        }
    }

    /// Optional periodic restock of every item (the original store's restock thread).
    func periodicRestock(count: Int) async {
        for item in ((try? topology.seedBooks()) ?? []).map(\.item) {
            let opId = "auto-\(spec.name)-\(item)-\(Int64(Date().timeIntervalSince1970 * 1_000_000))"
            _ = try? await handle(.restock(RestockRequest(item: item, count: count, opId: opId)))
        }
    }
}
