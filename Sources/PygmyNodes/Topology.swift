import Foundation
import PygmyBookstore
import PygmyRPC
import PygmyReplica

/// Which part a node plays.
public enum NodeRole: String, Codable, Sendable, CaseIterable {
    case frontend
    case catalog
    case order
}

/// TLS files of one node (PEM). Paths are relative to the topology file unless absolute.
public struct NodeTLS: Codable, Sendable, Hashable {
    public var certificate: String
    public var key: String
    public var ca: String

    enum CodingKeys: String, CodingKey, CaseIterable { case certificate, key, ca }

    public init(certificate: String, key: String, ca: String) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }
}

/// One node of the cluster.
public struct NodeSpec: Codable, Sendable, Hashable {
    public var name: String
    public var role: NodeRole
    /// Address the node listens on and peers dial.
    public var host: String
    public var port: Int
    /// Where a catalog or order replica keeps its SQLite database (relative to the topology file).
    public var dataDir: String?
    /// Frontend only: serve search and lookup from a read cache (default true).
    public var cache: Bool?
    /// Mutual TLS for this node; absent for plaintext.
    public var tls: NodeTLS?
    /// Address to listen on when it differs from `host` (for example 0.0.0.0 behind NAT).
    public var listenHost: String?
    /// Server limits of this node; the fields it gives override the cluster's `limits`.
    public var limits: RPCServerLimits?
    /// Serve Prometheus metrics over plain HTTP (`GET /metrics`) on this port; absent: no metrics
    /// endpoint. 0 picks a free port, which the node logs at start (tests).
    public var metricsPort: Int?
    /// The address the metrics endpoint binds (default 127.0.0.1: only this host can scrape it).
    public var metricsHost: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, role, host, port, dataDir, cache, tls, listenHost, limits, metricsPort, metricsHost
    }

    public init(
        name: String,
        role: NodeRole,
        host: String,
        port: Int,
        dataDir: String? = nil,
        cache: Bool? = nil,
        tls: NodeTLS? = nil,
        listenHost: String? = nil,
        limits: RPCServerLimits? = nil,
        metricsPort: Int? = nil,
        metricsHost: String? = nil
    ) {
        self.name = name
        self.role = role
        self.host = host
        self.port = port
        self.dataDir = dataDir
        self.cache = cache
        self.tls = tls
        self.listenHost = listenHost
        self.limits = limits
        self.metricsPort = metricsPort
        self.metricsHost = metricsHost
    }

    public var address: String { "\(host):\(port)" }

    /// Where the metrics endpoint binds: `metricsHost`, else 127.0.0.1 (nil: no metrics endpoint).
    public var metricsAddress: (host: String, port: Int)? {
        metricsPort.map { (metricsHost ?? "127.0.0.1", $0) }
    }
}

/// The whole cluster, as every node and client reads it from one shared file.
///
/// JSON with `//` line comments allowed; see `deploy/topology.example.jsonc`.
public struct Topology: Codable, Sendable, Hashable {
    /// Names this cluster (a UUID). Nodes and clients configured with it refuse peers of another
    /// cluster at the hello; `pygmy cluster up` and `pygmy topology init` make one.
    public var clusterId: String?
    public var nodes: [NodeSpec]
    /// Seed data for the catalog (relative to the topology file); absent: the original four books.
    public var books: String?
    /// How often nodes send heartbeats to their peers. A peer is down after a refused or dropped
    /// connection, three timed-out heartbeats in a row, or five intervals of silence.
    public var heartbeatMillis: Int?
    /// How long a catalog replica keeps a hold before asking its coordinator for the outcome.
    public var holdTimeoutMillis: Int?
    /// Read cache entries in the frontend.
    public var cacheCapacity: Int?
    /// Frontend: restock every item periodically by this many copies (0 or absent: never).
    public var periodicRestockCount: Int?
    public var periodicRestockSeconds: Int?
    /// Server limits of every node (handshake, frame and idle timeouts, connection and frame size
    /// limits); absent fields keep RPCServer's defaults. A node's own `limits` override these.
    public var limits: RPCServerLimits?

    /// The directory relative paths resolve against (the topology file's directory).
    public var baseDirectory: String = "."

    enum CodingKeys: String, CodingKey, CaseIterable {
        case clusterId, nodes, books, heartbeatMillis, holdTimeoutMillis, cacheCapacity, periodicRestockCount
        case periodicRestockSeconds, limits
    }

    public init(nodes: [NodeSpec], baseDirectory: String = ".") {
        self.nodes = nodes
        self.baseDirectory = baseDirectory
    }

    /// The cluster id as a UUID (nil when the topology names none).
    public var clusterUUID: UUID? { clusterId.flatMap(UUID.init(uuidString:)) }

    /// The node cores' timing: the defaults of `ReplicaTiming`, with the heartbeat interval and hold
    /// timeout this topology sets.
    public var timing: ReplicaTiming {
        .defaults {
            $0.heartbeatInterval = .milliseconds(heartbeatMillis ?? 200)
            $0.holdTimeout = .milliseconds(holdTimeoutMillis ?? 3000)
        }
    }
    public var heartbeatInterval: Duration { timing.heartbeatInterval }
    /// Silence after which a peer counts as down (five heartbeat intervals).
    public var failureTimeout: Duration { timing.failureTimeout }
    public var holdTimeout: Duration { timing.holdTimeout }

    /// The limits `spec`'s server runs with: its own over the cluster's (fields neither gives: defaults).
    public func serverLimits(for spec: NodeSpec) -> RPCServerLimits {
        (spec.limits ?? RPCServerLimits()).over(limits)
    }

    public func nodes(_ role: NodeRole) -> [NodeSpec] { nodes.filter { $0.role == role } }

    public func node(named name: String) throws -> NodeSpec {
        guard let node = nodes.first(where: { $0.name == name }) else {
            throw TopologyError(
                "no node named \"\(name)\"; the topology has \(nodes.map(\.name).joined(separator: ", "))"
            )
        }
        return node
    }

    /// Resolves a path from the topology file against its directory.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
    }

    /// Reads the seed books: the `books` file, or the original four.
    public func seedBooks() throws -> [CatalogSeed] {
        guard let books else { return CatalogSeed.original }
        let path = resolve(books)
        let text = try Self.readConfigurationFile(path, what: "books file")
        let keys = ["item", "title", "topic", "stock", "cost"]
        do {
            return try StrictJSON.decode([CatalogSeed].self, from: text, schema: .list(.leaves(keys)))
        } catch let problem as StrictJSON.Problem {
            throw TopologyError("books file \(path), \(problem)")
        }
    }

    /// Checks what a typo would otherwise turn into a confusing runtime failure.
    public func validate() throws {
        var names = Set<String>()
        for node in nodes {
            guard names.insert(node.name).inserted else {
                throw TopologyError("node name \"\(node.name)\" appears twice")
            }
            guard (1...65535).contains(node.port) else {
                throw TopologyError("node \(node.name): port \(node.port) is out of range")
            }
            if node.role != .frontend && node.dataDir == nil {
                throw TopologyError("node \(node.name): a \(node.role.rawValue) replica needs a dataDir")
            }
            if let problem = node.limits?.problem() {
                throw TopologyError("node \(node.name): limits: \(problem)")
            }
            if node.name.isEmpty || node.host.isEmpty {
                throw TopologyError("every node needs a non-empty name and host")
            }
            try node.validateMetrics()
        }
        if let problem = limits?.problem() { throw TopologyError("limits: \(problem)") }
        if let clusterId, UUID(uuidString: clusterId) == nil {
            throw TopologyError(
                "clusterId \"\(clusterId)\" is not a UUID; make one with `pygmy topology init` or `uuidgen`"
            )
        }
        for (name, value) in [("heartbeatMillis", heartbeatMillis), ("holdTimeoutMillis", holdTimeoutMillis)] {
            if let value, value <= 0 { throw TopologyError("\(name) must be positive, not \(value)") }
        }
        if let cacheCapacity, cacheCapacity < 0 { throw TopologyError("cacheCapacity must not be negative") }
        for role in NodeRole.allCases where nodes(role).isEmpty {
            throw TopologyError("the topology has no \(role.rawValue) node")
        }
        let tlsCount = nodes.filter { $0.tls != nil }.count
        guard tlsCount == 0 || tlsCount == nodes.count else {
            throw TopologyError("either every node uses TLS or none does (\(tlsCount) of \(nodes.count) do)")
        }
    }

    /// Every key a topology file may hold, level by level (see `StrictJSON`).
    static let schema: ConfigSchema = {
        let limits = ConfigSchema.leaves(RPCServerLimits.fieldNames)
        var node: [String: ConfigSchema] = Dictionary(
            uniqueKeysWithValues: NodeSpec.CodingKeys.allCases.map { ($0.stringValue, .leaf) }
        )
        node["tls"] = .leaves(NodeTLS.CodingKeys.allCases.map(\.stringValue))
        node["limits"] = limits
        var top: [String: ConfigSchema] = Dictionary(
            uniqueKeysWithValues: CodingKeys.allCases.map { ($0.stringValue, .leaf) }
        )
        top["nodes"] = .list(.object(node))
        top["limits"] = limits
        return .object(top)
    }()

    /// Loads a topology file (JSON; lines starting with `//` are comments) strictly: a syntax error, an
    /// unknown key or a value of the wrong type is a `TopologyError` naming the file, line and column.
    public static func load(path: String) throws -> Topology {
        let url = URL(fileURLWithPath: path)
        let text = try readConfigurationFile(path, what: "topology file")
        var topology: Topology
        do {
            topology = try StrictJSON.decode(Topology.self, from: text, schema: schema)
        } catch let problem as StrictJSON.Problem {
            throw TopologyError("topology file \(path), \(problem)")
        }
        topology.baseDirectory = url.deletingLastPathComponent().path
        do {
            try topology.validate()
        } catch let error as TopologyError {
            throw TopologyError("topology file \(path): \(error.description)")
        }
        return topology
    }

    /// The text of a configuration file, or an error that says why it cannot be read.
    static func readConfigurationFile(_ path: String, what: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TopologyError("cannot read \(what) \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw TopologyError("cannot read \(what) \(path): it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TopologyError("cannot read \(what) \(path): permission denied")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TopologyError("cannot read \(what) \(path): it is not UTF-8 text")
        }
        return text
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }
}

extension NodeSpec {
    /// Checks `metricsPort` and `metricsHost`: a port from 0 (a free one) to 65535 other than the node's
    /// RPC port, and a host only together with a port.
    func validateMetrics() throws {
        if let metricsHost {
            guard metricsPort != nil else {
                throw TopologyError("node \(name): metricsHost is set but metricsPort is not")
            }
            guard !metricsHost.isEmpty else { throw TopologyError("node \(name): metricsHost is empty") }
        }
        guard let metricsPort else { return }
        guard (0...65535).contains(metricsPort) else {
            throw TopologyError(
                "node \(name): metricsPort \(metricsPort) is out of range (0 to 65535; 0 picks a free port)"
            )
        }
        if metricsPort == port {
            throw TopologyError("node \(name): metricsPort \(metricsPort) is the node's RPC port")
        }
    }
}

public struct TopologyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
