import ArgumentParser
import Foundation
import PygmyNodes
import PygmyRPC
import PygmyTLS

/// Where and how to reach the frontend; shared by every client command.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Frontend address, HOST:PORT (default: $PYGMY_FRONTEND, else 127.0.0.1:7100).")
    var frontend: String?

    @Option(
        name: .long,
        help:
            "A local cluster's directory (made by `pygmy cluster up`): its topology and certificates (default: $PYGMY_CLUSTER)."
    )
    var cluster: String?

    /// The frontend port `pygmy cluster up` uses by default, and so the clients' default too.
    static let defaultFrontendPort = 7100

    /// The environment's defaults, which flags override: `PYGMY_CLUSTER`, `PYGMY_FRONTEND` and
    /// `PYGMY_CERTS_DIR` (a directory holding `<role>.crt`, `<role>.key` and `ca.crt`).
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The cluster directory in effect: `--cluster`, else `PYGMY_CLUSTER` unless `--frontend` is given.
    var effectiveCluster: String? {
        if let cluster { return cluster }
        guard frontend == nil, let value = Self.environment["PYGMY_CLUSTER"], !value.isEmpty else { return nil }
        return value
    }

    /// The frontend address in effect: `--frontend`, else `PYGMY_FRONTEND`, else 127.0.0.1:7100.
    var effectiveFrontend: String {
        if let frontend { return frontend }
        if let value = Self.environment["PYGMY_FRONTEND"], !value.isEmpty { return value }
        return "127.0.0.1:\(Self.defaultFrontendPort)"
    }

    @Option(name: .long, help: "Client certificate (PEM) for a TLS cluster.")
    var cert: String?

    @Option(name: .long, help: "Client private key (PEM) for a TLS cluster.")
    var key: String?

    @Option(name: .long, help: "CA bundle (PEM) that signed the frontend's certificate.")
    var ca: String?

    @Option(name: .long, help: "Seconds to wait for an answer.")
    var timeout: Double = 10

    @Flag(name: .long, help: "Print one JSON object on stdout instead of text.")
    var json = false

    func validate() throws {
        if frontend != nil && cluster != nil { throw ValidationError("give --frontend or --cluster, not both") }
        if let frontend, parseAddress(frontend) == nil {
            throw ValidationError("--frontend must be HOST:PORT, not \"\(frontend)\"")
        }
        if frontend == nil && effectiveCluster == nil && parseAddress(effectiveFrontend) == nil {
            throw ValidationError("PYGMY_FRONTEND must be HOST:PORT, not \"\(effectiveFrontend)\"")
        }
        let tlsOptions = [cert, key, ca].compactMap { $0 }.count
        if tlsOptions != 0 && tlsOptions != 3 { throw ValidationError("TLS needs all of --cert, --key and --ca") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    /// Runs `body` with a client for the frontend (or, given `node`, for that node: a name of the
    /// cluster's topology, or HOST:PORT) and closes it afterwards.
    func withClient<T>(
        certificateRole: String = "client",
        node: String? = nil,
        _ body: (RPCClient) async throws -> T
    ) async throws -> T {
        try await makeClient(certificateRole: certificateRole, node: node).closing(after: body)
    }

    /// Builds a client for the frontend, with TLS if configured, using `role`'s certificate from a
    /// cluster directory (`client` or `admin`).
    func makeClient(certificateRole: String = "client", node: String? = nil) throws -> RPCClient {
        var host = "127.0.0.1"
        var port = Self.defaultFrontendPort
        var tls: TLSConfiguration?
        var clusterId: UUID?
        if let cluster = effectiveCluster {
            let topology = try Topology.load(path: (cluster as NSString).appendingPathComponent("topology.json"))
            let front =
                try node.map { try Self.spec($0, in: topology, cluster: cluster) } ?? topology.nodes(.frontend)[0]
            host = front.host
            port = front.port
            clusterId = topology.clusterUUID
            if front.tls != nil {
                let certs = (cluster as NSString).appendingPathComponent("certs")
                tls = TLSConfiguration.node(named: certificateRole, in: certs)
            }
        } else if let node {
            guard let address = parseAddress(node) else {
                throw ValidationError(
                    "--node \(node) names a node of a cluster: give --cluster DIR, or the node as HOST:PORT"
                )
            }
            (host, port) = address
        } else if let address = parseAddress(effectiveFrontend) {
            (host, port) = address
        }
        if cert == nil, effectiveCluster == nil, let certs = Self.environment["PYGMY_CERTS_DIR"], !certs.isEmpty {
            tls = TLSConfiguration.node(named: certificateRole, in: certs)
        }
        if let cert, let key, let ca {
            tls = TLSConfiguration(certificateChainFile: cert, privateKeyFile: key, trustedCAFile: ca)
        }
        var configuration = RPCClient.Configuration()
        // --timeout bounds the whole call: connect, handshake and answer. The handshake gets most of it, so
        // that a peer that accepts and stays silent is reported as such rather than as a slow call.
        configuration.defaultTimeout = .milliseconds(Int64(timeout * 1000))
        configuration.connectTimeout = .milliseconds(Int64(min(timeout, 3) * 1000))
        configuration.handshakeTimeout = .milliseconds(Int64(timeout * 800))
        configuration.keepaliveInterval = nil
        // A cluster directory names its cluster: a frontend of another cluster at that address is refused.
        configuration.clusterId = clusterId
        if let tls {
            do {
                configuration.security = try OpenSSLTransportSecurity(configuration: tls)
            } catch {
                throw CommandFailure(
                    code: "tlsFailure",
                    message: "cannot load TLS files: \(error)",
                    exit: Exit.security
                )
            }
        }
        return RPCClient(host: host, port: port, configuration: configuration)
    }
}

extension ClientOptions {
    /// The node `name` of the cluster in `cluster` (a name of its topology, or its HOST:PORT).
    static func spec(_ name: String, in topology: Topology, cluster: String) throws -> NodeSpec {
        if let spec = topology.nodes.first(where: { $0.name == name || $0.address == name }) { return spec }
        let names = topology.nodes.map(\.name).joined(separator: ", ")
        throw ValidationError("--node \(name) is not a node of the cluster in \(cluster) (its nodes: \(names))")
    }
}

/// Splits `HOST:PORT` (IPv6 as `[::1]:7000`).
func parseAddress(_ text: String) -> (String, Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
        (1...65535).contains(port)
    else { return nil }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return host.isEmpty ? nil : (host, port)
}
