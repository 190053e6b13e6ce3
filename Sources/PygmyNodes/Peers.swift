import Logging
import NIOCore
import NIOPosix
import PygmyBookstore
import PygmyRPC
import PygmyWire
import Synchronization

/// The clients a node keeps to its peers, and the failure detector fed by heartbeats and call results.
///
/// A heartbeat task calls `node.health` on every peer each interval; any call that fails with a
/// `TransportError` also marks the peer down at once, so a crashed replica is skipped from the next
/// request on rather than after the heartbeat timeout.
/// Limits of the connections between nodes.
public enum PeerLimits {
    /// The largest answer a node accepts from a peer.
    public static let maxFrameLength = 64 << 20
}

final class Peers: Sendable {
    struct Peer: Sendable {
        let spec: NodeSpec
        let client: RPCClient
    }

    let peers: [String: Peer]
    private let detector: Mutex<FailureDetector<String>>
    private let lastStatus = Mutex<[String: NodeStatus]>([:])
    private let origin = ContinuousClock.now
    private let interval: Duration
    private let logger: Logger
    private let roundRobin = Atomic<Int>(0)

    init(
        specs: [NodeSpec],
        topology: Topology,
        security: (any RPCTransportSecurity)?,
        role: PeerRole,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
        logger: Logger
    ) {
        var peers: [String: Peer] = [:]
        for spec in specs {
            let configuration = RPCClient.Configuration.defaults {
                $0.role = role
                $0.security = security
                $0.connectTimeout = .seconds(1)
                $0.keepaliveInterval = topology.heartbeatInterval * 5
                $0.keepaliveTimeout = topology.failureTimeout
                $0.backoff.initial = .milliseconds(20)
                $0.backoff.maximum = topology.heartbeatInterval
                $0.defaultTimeout = .seconds(5)
                // Resync answers (a whole order log or catalog snapshot) are single frames that grow with
                // the log: accept up to 64 MiB from peers (about 500,000 orders) instead of the 4 MiB
                // default, which a long chaos run outgrew.
                $0.maxFrameLength = PeerLimits.maxFrameLength
            }
            peers[spec.name] = Peer(
                spec: spec,
                client: RPCClient(
                    host: spec.host,
                    port: spec.port,
                    configuration: configuration,
                    group: eventLoop,
                    logger: logger
                )
            )
        }
        self.peers = peers
        self.interval = topology.heartbeatInterval
        self.logger = logger
        self.detector = Mutex(FailureDetector(peers: specs.map(\.name), timeout: topology.failureTimeout, now: .zero))
    }

    var now: Duration { ContinuousClock.now - origin }

    func names(_ role: NodeRole) -> [String] {
        peers.values.filter { $0.spec.role == role }.map(\.spec.name).sorted()
    }

    func client(_ name: String) -> RPCClient { peers[name]!.client }

    func isUp(_ name: String) -> Bool { detector.withLock { $0.isUp(name, now: now) } }

    /// Peers of `role` that are up, sorted by name.
    func up(_ role: NodeRole) -> [String] {
        let now = self.now
        return detector.withLock { d in names(role).filter { d.isUp($0, now: now) } }
    }

    /// Peers of `role` that are up, rotated so successive calls start at different replicas.
    func rotation(_ role: NodeRole) -> [String] {
        let live = up(role)
        guard !live.isEmpty else { return [] }
        let start = roundRobin.add(1, ordering: .relaxed).newValue % live.count
        return Array(live[start...] + live[..<start])
    }

    func markUp(_ name: String, status: NodeStatus? = nil) {
        let cameUp = detector.withLock { $0.succeeded(name, now: now) }
        if let status { lastStatus.withLock { $0[name] = status } }
        if cameUp { logger.info("peer up", metadata: ["peer": "\(name)"]) }
    }

    func markDown(_ name: String, because error: any Error) {
        // A timeout may only mean the peer (or this machine) is busy; refusals and drops are definite.
        let definite: Bool
        switch error {
        case let transport as TransportError: definite = transport.kind != .keepaliveTimeout
        case let rpc as RPCError: definite = rpc.code == .unavailable
        default: definite = true
        }
        let wentDown = detector.withLock { $0.failed(name, now: now, definite: definite) }
        if wentDown { logger.warning("peer down", metadata: ["peer": "\(name)", "error": "\(error)"]) }
    }

    /// The last status a peer reported in a heartbeat.
    func status(_ name: String) -> NodeStatus? { lastStatus.withLock { $0[name] } }

    /// Calls `method` on peer `name`, feeding the outcome to the failure detector.
    func call<M: RPCMethod>(
        _ name: String,
        _ method: M.Type,
        _ request: M.Request,
        timeout: Duration? = nil
    )
        async throws -> M.Response
    {
        do {
            let response = try await client(name).call(method, request, timeout: timeout)
            markUp(name)
            return response
        } catch let error as TransportError {
            markDown(name, because: error)
            throw error
        } catch let error as RPCError where error.code == .deadlineExceeded || error.code == .unavailable {
            markDown(name, because: error)
            throw error
        }
    }

    /// Heartbeats every peer each interval until the task is cancelled.
    func runHeartbeats() async {
        while !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                for name in peers.keys {
                    group.addTask { [self] in
                        do {
                            let status = try await client(name).call(
                                NodeMethods.Heartbeat.self,
                                HealthRequest(latencies: false),
                                timeout: interval * 2
                            )
                            markUp(name, status: status)
                        } catch {
                            markDown(name, because: error)
                        }
                    }
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    func peerNamesByState() -> (up: [String], down: [String]) {
        let all = peers.keys.sorted()
        let now = self.now
        return detector.withLock { d in (all.filter { d.isUp($0, now: now) }, all.filter { !d.isUp($0, now: now) }) }
    }

    func closeAll() async {
        for peer in peers.values { await peer.client.close() }
    }
}
