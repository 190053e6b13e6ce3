import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyTLS

/// A cluster of `pygmy node` processes on 127.0.0.1, described by `DIR/topology.json`, with logs in
/// `DIR/logs` and process ids in `DIR/pids`. Used by `pygmy cluster`, `pygmy demo` and `pygmy bench`.
struct LocalCluster {
    let directory: String
    var topologyPath: String { path("topology.json") }

    static let nodeNames = ["frontend", "catalog-1", "catalog-2", "order-1", "order-2"]

    func path(_ parts: String...) -> String {
        parts.reduce(directory) { ($0 as NSString).appendingPathComponent($1) }
    }

    func topology() throws -> Topology { try Topology.load(path: topologyPath) }

    /// Writes a topology of one frontend and two catalog and two order replicas (and certificates).
    static func create(
        directory: String,
        basePort: Int,
        tls: Bool,
        cache: Bool,
        heartbeatMillis: Int = 100
    ) throws -> LocalCluster {
        let cluster = LocalCluster(directory: (directory as NSString).standardizingPath)
        let fm = FileManager.default
        for sub in ["", "logs", "pids", "data"] {
            try fm.createDirectory(atPath: cluster.path(sub), withIntermediateDirectories: true)
        }
        var specs: [NodeSpec] = []
        for (offset, name) in nodeNames.enumerated() {
            let role: NodeRole = name == "frontend" ? .frontend : (name.hasPrefix("catalog") ? .catalog : .order)
            specs.append(
                NodeSpec(
                    name: name,
                    role: role,
                    host: "127.0.0.1",
                    port: basePort + offset,
                    dataDir: role == .frontend ? nil : "data/\(name)",
                    cache: role == .frontend ? cache : nil,
                    tls: tls
                        ? NodeTLS(certificate: "certs/\(name).crt", key: "certs/\(name).key", ca: "certs/ca.crt") : nil
                )
            )
        }
        var topology = Topology(nodes: specs, baseDirectory: cluster.directory)
        topology.heartbeatMillis = heartbeatMillis
        try topology.validate()
        try topology.write(to: cluster.topologyPath)
        if tls { try cluster.makeCertificates(specs) }
        return cluster
    }

    /// Runs `certs/make-certs.sh` for the nodes (plus the client and admin roles) into `DIR/certs`.
    func makeCertificates(_ specs: [NodeSpec]) throws {
        let script = Self.certsScript()
        guard FileManager.default.fileExists(atPath: script) else {
            throw CommandFailure(
                code: "tlsFailure",
                message: "cannot find certs/make-certs.sh at \(script); set PYGMY_CERTS_SCRIPT",
                exit: Exit.security
            )
        }
        let args = ["-o", path("certs")] + specs.map { "\($0.name):\($0.role.rawValue):\($0.host),localhost" }
        let status = try Self.runQuietly("/bin/bash", [script] + args)
        guard status == 0 else {
            throw CommandFailure(
                code: "tlsFailure",
                message: "make-certs.sh failed (status \(status))",
                exit: Exit.security
            )
        }
    }

    static func certsScript() -> String {
        if let override = ProcessInfo.processInfo.environment["PYGMY_CERTS_SCRIPT"] { return override }
        // Sources/pygmy/LocalCluster.swift → repository root.
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

    /// The path of the running `pygmy` executable.
    static func executable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts node `name` as its own process.
    @discardableResult
    func start(_ name: String) throws -> Int32 {
        if let pid = pid(name), Self.isAlive(pid) {
            throw CommandFailure(
                code: "alreadyRunning",
                message: "\(name) is already running (pid \(pid))",
                exit: Exit.failure
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

    func pid(_ name: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path("pids", "\(name).pid"), encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie (exited, not yet reaped) counts as dead.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }

    func isRunning(_ name: String) -> Bool { pid(name).map(Self.isAlive) ?? false }

    /// Sends `signal` to node `name`. Returns false if it was not running.
    @discardableResult
    func signal(_ name: String, _ signal: Int32) -> Bool {
        guard let pid = pid(name), Self.isAlive(pid) else { return false }
        return kill(pid, signal) == 0
    }

    /// Crashes node `name` with SIGKILL and waits until it is gone.
    func crash(_ name: String) async throws {
        guard signal(name, SIGKILL) else {
            throw CommandFailure(code: "notRunning", message: "\(name) is not running", exit: Exit.failure)
        }
        while isRunning(name) { try await Task.sleep(for: .milliseconds(10)) }
    }

    /// SIGTERM to every node, SIGKILL to those still running after `grace`.
    func stopAll(grace: Duration = .seconds(5)) async {
        for name in Self.nodeNames { signal(name, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline && Self.nodeNames.contains(where: isRunning) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for name in Self.nodeNames where isRunning(name) { signal(name, SIGKILL) }
        for name in Self.nodeNames { try? FileManager.default.removeItem(atPath: path("pids", "\(name).pid")) }
    }

    // MARK: Clients and health

    /// A client of node `name` (the frontend by default), with the right certificate if the cluster uses TLS.
    func client(
        _ name: String = "frontend",
        certificateRole: String = "client",
        timeout: Duration = .seconds(10),
        maxFrameLength: Int? = nil
    ) throws
        -> RPCClient
    {
        let spec = try topology().node(named: name)
        var configuration = RPCClient.Configuration()
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
    func waitUntilHealthy(timeout: Duration = .seconds(30), client: RPCClient) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = "no answer from the frontend"
        while ContinuousClock.now < deadline {
            do {
                let status = try await client.call(Frontend.Status.self, Empty(), timeout: .seconds(2))
                let running = Set(Self.nodeNames.filter(isRunning))
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
        throw CommandFailure(
            code: "unhealthy",
            message: "cluster in \(directory) not healthy after \(timeout) (\(last)); see \(path("logs"))",
            exit: Exit.unreachable
        )
    }
}
