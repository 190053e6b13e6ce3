import Logging
import NIOCore
import NIOPosix
import PygmyBookstore
import PygmyRPC
import PygmyReplica
import PygmyWire

/// Limits of the connections between nodes.
public enum PeerLimits {
    /// The largest answer a node accepts from a peer.
    public static let maxFrameLength = 64 << 20
}

/// The RPC clients a node keeps to its peers, and the one mapping between the cores' `PeerRequest` /
/// `CallResult` and the RPC methods and errors.
final class PeerClients: Sendable {
    let clients: [String: RPCClient]
    let specs: [String: NodeSpec]

    init(
        specs: [NodeSpec],
        topology: Topology,
        security: (any RPCTransportSecurity)?,
        role: PeerRole,
        eventLoop: any EventLoop,
        logger: Logger
    ) {
        var clients: [String: RPCClient] = [:]
        for spec in specs {
            let configuration = RPCClient.Configuration.defaults {
                $0.role = role
                $0.security = security
                $0.clusterId = topology.clusterUUID
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
            clients[spec.name] = RPCClient(
                host: spec.host,
                port: spec.port,
                configuration: configuration,
                group: eventLoop,
                logger: logger
            )
        }
        self.clients = clients
        self.specs = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
    }

    func client(_ name: String) -> RPCClient { clients[name]! }

    /// The peers of each role, as the cores want them.
    var byRole: [ReplicaRole: [String]] {
        var roles: [ReplicaRole: [String]] = [:]
        for spec in specs.values {
            let role: ReplicaRole
            switch spec.role {
            case .frontend: role = .frontend
            case .catalog: role = .catalog
            case .order: role = .order
            }
            roles[role, default: []].append(spec.name)
        }
        return roles.mapValues { $0.sorted() }
    }

    /// Makes `request` to `peer` and reports how it went, with the generation of the connection that
    /// carried the answer (nil when a reconnect happened during the call, so it cannot be told).
    func call(_ peer: String, _ request: PeerRequest, timeout: Duration) async -> CallResult {
        let client = client(peer)
        let before = client.connectionGeneration
        do {
            let response = try await Self.perform(request, on: client, timeout: timeout)
            let after = client.connectionGeneration
            return .answered(response, connection: before == after ? UInt64(after) : nil)
        } catch {
            return .failed(CallFailure(error))
        }
    }

    /// The RPC method behind each request.
    static func perform(_ request: PeerRequest, on client: RPCClient, timeout: Duration) async throws -> PeerResponse {
        switch request {
        case .heartbeat:
            let status = try await client.call(
                NodeMethods.Heartbeat.self,
                HealthRequest(latencies: false),
                timeout: timeout
            )
            return .status(
                PeerStatus(
                    state: status.state,
                    digest: status.digest,
                    membership: status.membership,
                    pending: status.pendingMembership,
                    lease: status.leaseMillis.map { .milliseconds($0) },
                    fold: status.fold
                )
            )
        case .hold(let hold):
            return .hold(try await client.call(Catalog.Hold.self, hold, timeout: timeout))
        case .commit(let commit):
            _ = try await client.call(Catalog.Commit.self, commit, timeout: timeout)
            return .ok
        case .abort(let abort):
            _ = try await client.call(Catalog.Abort.self, abort, timeout: timeout)
            return .ok
        case .restock(let restock):
            return .book(try await client.call(Catalog.Restock.self, restock, timeout: timeout), nil)
        case .setCost(let setCost):
            return .book(try await client.call(Catalog.SetCost.self, setCost, timeout: timeout), nil)
        case .lookup(let lookup):
            return .book(try await client.call(Catalog.Lookup.self, lookup, timeout: timeout), nil)
        case .search(let search):
            return .search(try await client.call(Catalog.Search.self, search, timeout: timeout))
        case .snapshot(let request):
            return .snapshot(try await client.call(Catalog.Snapshot.self, request, timeout: timeout))
        case .subscribe:
            _ = try await client.call(Catalog.Subscribe.self, Empty(), timeout: timeout)
            return .ok
        case .buy(let buy):
            return .bought(try await client.call(Order.Buy.self, buy, timeout: timeout))
        case .resolve(let resolve):
            return .resolution(try await client.call(Order.Resolve.self, resolve, timeout: timeout))
        case .replicate(let replicate):
            _ = try await client.call(Order.Replicate.self, replicate, timeout: timeout)
            return .ok
        case .listOrders(let list):
            return .log(try await client.call(Order.List.self, list, timeout: timeout))
        case .join(let join):
            _ = try await client.call(Order.Join.self, join, timeout: timeout)
            return .ok
        case .prepare(let prepare):
            return .vote(try await client.call(Consensus.Prepare.self, prepare, timeout: timeout))
        case .accept(let accept):
            return .vote(try await client.call(Consensus.Accept.self, accept, timeout: timeout))
        case .learn(let membership):
            _ = try await client.call(Consensus.Learn.self, membership, timeout: timeout)
            return .ok
        }
    }

    func closeAll() async {
        for client in clients.values { await client.close() }
    }
}

extension CallFailure {
    /// The one mapping from what a call threw to what the cores act on:
    /// - a refused connection (now, or the one the client is backing off after) → `.refused`;
    /// - no connection in time, a failed handshake (a peer of another cluster or no Pygmy server
    ///   included), a keepalive timeout, a passed deadline → `.unreachable`;
    /// - a connection that closed during the call, a server going away, a cancelled call → `.lost`;
    /// - a bookstore error the peer answered with → `.error`; another RPC error → `.error(.unavailable)`
    ///   with its text (the peer answered, but not with anything the cores can act on).
    public init(_ error: any Error) {
        switch error {
        case let transport as TransportError:
            switch transport.kind {
            case .connectFailed, .backingOff:
                self = transport.refused ? .refused(transport.message) : .unreachable(transport.message)
            case .handshakeFailed, .notPygmyServer, .wrongCluster, .keepaliveTimeout:
                self = .unreachable(transport.message)
            case .connectionClosed, .protocolViolation, .shutdown:
                self = .lost(transport.message)
            }
        case let rpc as RPCError:
            if let code = BookstoreError.Code(rawValue: rpc.code.rawValue) {
                self = .error(BookstoreError(code, rpc.message))
                return
            }
            switch rpc.code {
            case .deadlineExceeded: self = .unreachable("no answer in time: \(rpc.message)")
            case .unavailable, .cancelled: self = .lost("\(rpc.code): \(rpc.message)")
            default: self = .error(BookstoreError(.unavailable, "\(rpc.code): \(rpc.message)"))
            }
        case let bookstore as BookstoreError:
            self = .error(bookstore)
        default:
            self = .lost("\(error)")
        }
    }
}
