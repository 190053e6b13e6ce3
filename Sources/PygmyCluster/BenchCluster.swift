import Dispatch
import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyTLS
import Synchronization

/// The certificates `pygmy bench --frontend` uses on a TLS cluster: the clients' (searches, lookups, buys)
/// and the operator's (restocks, status), which may be the same certificate if it has both roles.
public struct BenchTLS: Sendable {
    public var client: TLSConfiguration
    public var admin: TLSConfiguration

    public init(client: TLSConfiguration, admin: TLSConfiguration) {
        self.client = client
        self.admin = admin
    }
}

/// The cluster a bench experiment runs against: one `pygmy bench` started (and stops), or one that was
/// already running (`--cluster DIR` or `--frontend HOST:PORT`).
final class BenchCluster: Sendable {
    /// nil for `--frontend`: no way to kill or restart nodes.
    let local: LocalCluster?
    /// Started by the bench, and so also stopped by it.
    let owned: Bool
    let cache: Bool?
    let admin: RPCClient
    private let host: String
    private let port: Int
    /// The clients' security for `--frontend` on a TLS cluster (nil: plaintext).
    private let clientSecurity: (any RPCTransportSecurity)?

    private init(
        local: LocalCluster?,
        owned: Bool,
        cache: Bool?,
        host: String,
        port: Int,
        tls: BenchTLS? = nil
    ) throws {
        self.local = local
        self.owned = owned
        self.cache = cache
        self.host = host
        self.port = port
        clientSecurity = try tls.map { try Self.security($0.client, "client") }
        if let local {
            admin = try local.client(certificateRole: "admin", timeout: .seconds(15))
        } else {
            let adminSecurity = try tls.map { try Self.security($0.admin, "admin") }
            admin = Self.plainClient(host: host, port: port, security: adminSecurity)
        }
    }

    /// Loads one of `BenchTLS`'s certificates, or says which one cannot be loaded.
    private static func security(_ tls: TLSConfiguration, _ role: String) throws -> any RPCTransportSecurity {
        do {
            return try OpenSSLTransportSecurity(configuration: tls)
        } catch {
            throw BenchError("cannot load the \(role) TLS files: \(error)")
        }
    }

    var description: String {
        if owned { return "local, started by pygmy bench in \(local?.directory ?? "?")" }
        if let local { return "existing, \(local.directory)" }
        return "existing, frontend \(host):\(port)\(clientSecurity == nil ? "" : " (TLS)")"
    }

    static func plainClient(host: String, port: Int, security: (any RPCTransportSecurity)? = nil) -> RPCClient {
        var configuration = RPCClient.Configuration()
        configuration.security = security
        configuration.defaultTimeout = .seconds(15)
        configuration.keepaliveInterval = nil
        configuration.backoff.initial = .milliseconds(20)
        configuration.backoff.maximum = .milliseconds(200)
        return RPCClient(host: host, port: port, configuration: configuration)
    }

    /// A client of the frontend with its own connection.
    func client() throws -> RPCClient {
        if let local { return try local.client(timeout: .seconds(15)) }
        return Self.plainClient(host: host, port: port, security: clientSecurity)
    }

    func status() async throws -> ClusterStatus {
        try await admin.call(Frontend.Status.self, Empty(), timeout: .seconds(10))
    }

    /// Adds `BenchLoad.restockAmount` copies of every item, so buys never run out.
    func restock(_ items: [ItemID]) async throws {
        for item in items {
            do {
                try await restock(item)
            } catch let error as RPCError where error.code == .permissionDenied && local == nil {
                throw BenchError(
                    "\(error.message). The bench restocks and reads the status as an operator: give --admin-cert "
                        + "and --admin-key (or a PYGMY_CERTS_DIR holding admin.crt and admin.key)"
                )
            }
        }
    }

    private func restock(_ item: ItemID) async throws {
        _ = try await admin.call(
            Frontend.Restock.self,
            RestockRequest(
                item: item,
                count: BenchLoad.restockAmount,
                opId: "bench-restock-\(BenchRunID.next())-\(item)"
            )
        )
    }

    func stop() async {
        await admin.close()
        if owned, let local {
            await local.stopAll()
            BenchCleanup.untrack(local)
        }
    }

    // MARK: Making one

    /// Starts a fresh local cluster on five free ports from `basePort` on; returns it and the next port to try.
    static func start(cache: Bool, basePort: Int, parent: String) async throws -> (BenchCluster, Int) {
        let base = try RawSocket.freeBase(from: basePort)
        let directory = (parent as NSString).appendingPathComponent("cluster-\(base)-cache-\(cache ? "on" : "off")")
        try? FileManager.default.removeItem(atPath: directory)
        let local = try LocalCluster.create(directory: directory, basePort: base, tls: false, cache: cache)
        BenchCleanup.track(local)
        for name in LocalCluster.nodeNames { try local.start(name) }
        let spec = try local.topology().nodes(.frontend)[0]
        let cluster = try BenchCluster(local: local, owned: true, cache: cache, host: spec.host, port: spec.port)
        do {
            try await local.waitUntilHealthy(client: cluster.admin, everyNode: true)
        } catch {
            await cluster.stop()
            throw error
        }
        return (cluster, base + 5)
    }

    static func existing(directory: String) throws -> BenchCluster {
        let local = LocalCluster(directory: (directory as NSString).standardizingPath)
        let spec = try local.topology().nodes(.frontend)[0]
        return try BenchCluster(local: local, owned: false, cache: spec.cache ?? true, host: spec.host, port: spec.port)
    }

    static func existing(frontend host: String, port: Int, tls: BenchTLS?) throws -> BenchCluster {
        try BenchCluster(local: nil, owned: false, cache: nil, host: host, port: port, tls: tls)
    }
}

/// Stops what the bench started when it is interrupted (SIGINT, SIGTERM): node processes start in process
/// groups of their own, so they would otherwise outlive the bench.
enum BenchCleanup {
    private static let state = Mutex<(clusters: [String: LocalCluster], pids: Set<Int32>, installed: Bool)>(
        ([:], [], false)
    )
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func track(_ cluster: LocalCluster) {
        installHandlers()
        state.withLock { $0.clusters[cluster.directory] = cluster }
    }

    static func untrack(_ cluster: LocalCluster) {
        _ = state.withLock { $0.clusters.removeValue(forKey: cluster.directory) }
    }

    static func track(pid: Int32) {
        installHandlers()
        _ = state.withLock { $0.pids.insert(pid) }
    }

    static func untrack(pid: Int32) { _ = state.withLock { $0.pids.remove(pid) } }

    private static func installHandlers() {
        let first = state.withLock { s in
            defer { s.installed = true }
            return !s.installed
        }
        guard first else { return }
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let (clusters, pids) = state.withLock { (Array($0.clusters.values), $0.pids) }
                for cluster in clusters {
                    for name in LocalCluster.nodeNames { cluster.signal(name, SIGKILL) }
                }
                for pid in pids { kill(pid, SIGKILL) }
                FileHandle.standardError.write(Data("\ninterrupted: stopped the bench's clusters\n".utf8))
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}
