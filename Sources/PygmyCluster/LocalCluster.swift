import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyTLS

/// A cluster of `pygmy node` processes on 127.0.0.1, described by `DIR/topology.json`, with logs in
/// `DIR/logs` and process ids in `DIR/pids`. Used by `pygmy cluster`, `pygmy demo` and `pygmy bench`.
public struct LocalCluster: Sendable {
    /// The cluster's directory (absolute once `create` has made it).
    public let directory: String
    /// `DIR/topology.json`, which every node of the cluster reads.
    public var topologyPath: String { path("topology.json") }

    /// The cluster of an existing directory (made by `create`, perhaps by another process).
    public init(directory: String) { self.directory = directory }

    /// The nodes of a default local cluster (two catalog and two order replicas), in start order.
    public static let nodeNames = nodeNames(catalogs: 2, orders: 2)

    /// How many catalog or order replicas a local cluster may have.
    public static let replicaCounts = 1...9

    /// The nodes of a local cluster with `catalogs` catalog and `orders` order replicas, in start order:
    /// the frontend, `catalog-1`…, `order-1`….
    public static func nodeNames(catalogs: Int, orders: Int) -> [String] {
        ["frontend"] + (1...max(1, catalogs)).map { "catalog-\($0)" } + (1...max(1, orders)).map { "order-\($0)" }
    }

    /// Node `name`'s port: the default five keep their places (frontend at `basePort`, catalog-1 and -2
    /// after it, then order-1 and -2); further replicas follow from `basePort + 5`, catalogs first.
    public static func port(of name: String, basePort: Int, catalogs: Int) -> Int {
        let number = Int(name.split(separator: "-").last ?? "") ?? 0
        switch name.hasPrefix("catalog") ? "catalog" : name.hasPrefix("order") ? "order" : "frontend" {
        case "catalog": return number <= 2 ? basePort + number : basePort + 5 + (number - 3)
        case "order": return number <= 2 ? basePort + 2 + number : basePort + 5 + max(0, catalogs - 2) + (number - 3)
        default: return basePort
        }
    }

    /// The nodes of this cluster's topology in start order (the default five if it has none yet).
    public var names: [String] {
        guard let nodes = try? topology().nodes else { return Self.nodeNames }
        let order: [NodeRole] = [.frontend, .catalog, .order]
        return order.flatMap { role in nodes.filter { $0.role == role }.map(\.name) }
    }

    /// A path inside the cluster's directory.
    public func path(_ parts: String...) -> String {
        parts.reduce(directory) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// The cluster's topology, read from `topologyPath`.
    public func topology() throws -> Topology { try Topology.load(path: topologyPath) }

    /// Writes a topology of one frontend, `catalogs` catalog and `orders` order replicas (and certificates).
    /// - Throws: `ClusterFailure` if a node of a cluster in `directory` is still running, a port is busy or
    ///   the certificates cannot be made; `TopologyError` or file errors otherwise.
    public static func create(
        directory: String,
        basePort: Int,
        tls: Bool,
        cache: Bool,
        heartbeatMillis: Int = 100,
        catalogs: Int = 2,
        orders: Int = 2
    ) throws -> LocalCluster {
        let cluster = LocalCluster(directory: (directory as NSString).standardizingPath)
        guard replicaCounts.contains(catalogs), replicaCounts.contains(orders) else {
            throw ClusterFailure(
                code: "invalidArguments",
                message: "a local cluster has 1 to 9 catalog and 1 to 9 order replicas, not \(catalogs) and \(orders)",
                exit: .usage
            )
        }
        let nodeNames = nodeNames(catalogs: catalogs, orders: orders)
        let ports = nodeNames.map { port(of: $0, basePort: basePort, catalogs: catalogs) }
        // Every check before anything is written: a running cluster keeps its topology, and a busy port
        // is named instead of letting the other process answer our health check.
        if let running = (cluster.names + nodeNames).first(where: cluster.isRunning) {
            throw ClusterFailure(
                code: "alreadyRunning",
                message:
                    "a cluster in \(cluster.directory) is already running (\(running), pid \(cluster.pid(running) ?? 0)); "
                    + "stop it with `pygmy cluster down --dir \(directory)` or use another --dir",
                exit: .failure
            )
        }
        if let last = ports.max(), last > 65535 {
            throw ClusterFailure(
                code: "invalidArguments",
                message:
                    "\(nodeNames.count) nodes from --base-port \(basePort) need ports up to \(last); choose a lower one",
                exit: .usage
            )
        }
        for (name, port) in zip(nodeNames, ports) where !RawSocket.isFree(port: port) {
            throw ClusterFailure(
                code: "portInUse",
                message: "port \(port) on 127.0.0.1 (for \(name)) is in use by another process, "
                    + "perhaps another Pygmy cluster; choose other ports with --base-port",
                exit: .usage
            )
        }
        let fm = FileManager.default
        for sub in ["", "logs", "pids", "data"] {
            try fm.createDirectory(atPath: cluster.path(sub), withIntermediateDirectories: true)
        }
        var specs: [NodeSpec] = []
        for (name, port) in zip(nodeNames, ports) {
            let role: NodeRole = name == "frontend" ? .frontend : (name.hasPrefix("catalog") ? .catalog : .order)
            specs.append(
                NodeSpec(
                    name: name,
                    role: role,
                    host: "127.0.0.1",
                    port: port,
                    dataDir: role == .frontend ? nil : "data/\(name)",
                    cache: role == .frontend ? cache : nil,
                    tls: tls
                        ? NodeTLS(certificate: "certs/\(name).crt", key: "certs/\(name).key", ca: "certs/ca.crt") : nil
                )
            )
        }
        var topology = Topology(nodes: specs, baseDirectory: cluster.directory)
        topology.clusterId = UUID().uuidString
        topology.heartbeatMillis = heartbeatMillis
        try topology.validate()
        try topology.write(to: cluster.topologyPath)
        if tls { try cluster.makeCertificates(specs) }
        return cluster
    }

    /// The first line of node `name`'s log that reports an error (for a node that died at start).
    func firstErrorLine(_ name: String) -> String? {
        guard let log = try? String(contentsOfFile: path("logs", "\(name).log"), encoding: .utf8) else { return nil }
        let lines = log.split(separator: "\n").map(String.init)
        return lines.first { $0.localizedCaseInsensitiveContains("error") } ?? lines.last
    }

    /// Runs `certs/make-certs.sh` for the nodes (plus the client and admin roles) into `DIR/certs`.
    func makeCertificates(_ specs: [NodeSpec]) throws {
        let script = Self.certsScript()
        guard FileManager.default.fileExists(atPath: script) else {
            throw ClusterFailure(
                code: "tlsFailure",
                message: "cannot find certs/make-certs.sh at \(script); set PYGMY_CERTS_SCRIPT",
                exit: .security
            )
        }
        let args = ["-o", path("certs")] + specs.map { "\($0.name):\($0.role.rawValue):\($0.host),localhost" }
        let status = try Self.runQuietly("/bin/bash", [script] + args)
        guard status == 0 else {
            throw ClusterFailure(
                code: "tlsFailure",
                message: "make-certs.sh failed (status \(status))",
                exit: .security
            )
        }
    }

    static func certsScript() -> String {
        if let override = ProcessInfo.processInfo.environment["PYGMY_CERTS_SCRIPT"] { return override }
        // Sources/PygmyCluster/LocalCluster.swift → repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent("certs/make-certs.sh").path
    }

    static func runQuietly(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    // MARK: Processes

    /// The path of the running executable, which must be `pygmy`: nodes are started as `pygmy node`.
    static func executable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts node `name` as its own process.
    /// - Throws: `ClusterFailure` if it is already running; topology and file errors.
    @discardableResult
    public func start(_ name: String) throws -> Int32 {
        if let pid = pid(name), Self.isAlive(pid) {
            throw ClusterFailure(
                code: "alreadyRunning",
                message: "\(name) is already running (pid \(pid))",
                exit: .failure
            )
        }
        let spec = try topology().node(named: name)
        let logPath = path("logs", "\(name).log")
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        // Foundation starts the child in a process group of its own, so it outlives a detached `cluster up`.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable())
        process.arguments = ["node", spec.role.rawValue, "--config", topologyPath, "--name", name]
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        try "\(pid)\n".write(toFile: path("pids", "\(name).pid"), atomically: true, encoding: .utf8)
        return pid
    }

    /// The process id `start` recorded for node `name`, if any (it may have exited since).
    public func pid(_ name: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path("pids", "\(name).pid"), encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie (exited, not yet reaped) counts as dead.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }

    /// Whether node `name`'s recorded process is alive (not a zombie).
    public func isRunning(_ name: String) -> Bool { pid(name).map(Self.isAlive) ?? false }

    /// Sends `signal` to node `name`. Returns false if it was not running.
    @discardableResult
    public func signal(_ name: String, _ signal: Int32) -> Bool {
        guard let pid = pid(name), Self.isAlive(pid) else { return false }
        return kill(pid, signal) == 0
    }

    /// Crashes node `name` with SIGKILL and waits until it is gone.
    public func crash(_ name: String) async throws {
        guard signal(name, SIGKILL) else {
            throw ClusterFailure(code: "notRunning", message: "\(name) is not running", exit: .failure)
        }
        while isRunning(name) { try await Task.sleep(for: .milliseconds(10)) }
    }

    /// SIGTERM to every node, SIGKILL to those still running after `grace`.
    public func stopAll(grace: Duration = .seconds(5)) async {
        let nodeNames = names
        for name in nodeNames { signal(name, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline && nodeNames.contains(where: isRunning) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for name in nodeNames where isRunning(name) { signal(name, SIGKILL) }
        for name in nodeNames { try? FileManager.default.removeItem(atPath: path("pids", "\(name).pid")) }
    }

    // MARK: Clients and health

    /// A client of node `name` (the frontend by default), with the right certificate if the cluster uses TLS.
    public func client(
        _ name: String = "frontend",
        certificateRole: String = "client",
        timeout: Duration = .seconds(10),
        maxFrameLength: Int? = nil
    ) throws
        -> RPCClient
    {
        let topology = try topology()
        let spec = try topology.node(named: name)
        var configuration = RPCClient.Configuration()
        configuration.clusterId = topology.clusterUUID
        configuration.defaultTimeout = timeout
        if let maxFrameLength { configuration.maxFrameLength = maxFrameLength }
        configuration.backoff.initial = .milliseconds(20)
        configuration.backoff.maximum = .milliseconds(200)
        if spec.tls != nil {
            configuration.security = try OpenSSLTransportSecurity(
                configuration: TLSConfiguration.node(named: certificateRole, in: path("certs"))
            )
        }
        return RPCClient(host: spec.host, port: spec.port, configuration: configuration)
    }

    /// Waits until the frontend reports every running node up and ready.
    /// - Throws: `ClusterFailure` if a started node exits meanwhile, or (`unreachable`) at the timeout.
    /// - Parameter everyNode: every node of the topology was just started and must stay up (a node that
    ///   died before the first look fails the start too); otherwise only the nodes running now count.
    public func waitUntilHealthy(
        timeout: Duration = .seconds(30),
        client: RPCClient,
        everyNode: Bool = false
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = "no answer from the frontend"
        let nodeNames = names
        let started = everyNode ? nodeNames : nodeNames.filter(isRunning)
        while ContinuousClock.now < deadline {
            // A node that exits during start-up (a port it could not bind, a bad file) fails the start
            // at once, with its own words, instead of a health check another cluster might answer.
            if let dead = started.first(where: { !isRunning($0) }) {
                throw ClusterFailure(
                    code: "nodeExited",
                    message: "\(dead) exited during start-up: \(firstErrorLine(dead) ?? "no log")"
                        + " (log: \(path("logs", "\(dead).log")))",
                    exit: .failure
                )
            }
            do {
                let status = try await client.call(Frontend.Status.self, Empty(), timeout: .seconds(2))
                let running = Set(nodeNames.filter(isRunning))
                let ready = Set(status.nodes.filter { $0.state == "ready" }.map(\.name))
                let frontendSees = Set(status.nodes.first { $0.role == "frontend" }?.peersUp ?? [])
                if running.isSubset(of: ready) && running.subtracting(["frontend"]).isSubset(of: frontendSees) {
                    return
                }
                last = "ready: \(ready.sorted()), frontend sees: \(frontendSees.sorted())"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClusterFailure(
            code: "unhealthy",
            message: "cluster in \(directory) not healthy after \(timeout) (\(last)); see \(path("logs"))",
            exit: .unreachable
        )
    }
}
