import Foundation
import Synchronization
import Testing

/// Runs programs to completion for the multi-host test, off Swift concurrency's cooperative threads.
enum MultiHostCommand {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool

        /// Both streams, for failure messages.
        var output: String {
            stdout + (stderr.isEmpty ? "" : "\n[stderr] " + stderr) + (timedOut ? "\n[killed: timed out]" : "")
        }
    }

    struct LaunchError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable arguments…` on a thread of its own; killed after `timeout`.
    static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Duration = .seconds(20)
    ) async throws
        -> Result
    {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do {
                    continuation.resume(returning: try runBlocking(executable, arguments, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }

    /// Runs `executable arguments…` on the calling thread; killed after `timeout`. It blocks that thread, so
    /// call it only from a thread of its own (as `run` does) or where no task runs (a static initialiser
    /// evaluated once: `MultiHostNetwork.unavailableReason`).
    static func runBlocking(
        _ executable: String,
        _ arguments: [String],
        timeout: Duration = .seconds(20)
    ) throws
        -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        for pipe in [out, err] { PygmyProcess.closeOnExec(pipe) }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw LaunchError(description: "cannot run \(executable): \(error)")
        }
        let stdout = Collected()
        let stderr = Collected()
        let readers = DispatchGroup()
        DispatchQueue.global().async(group: readers) { stdout.set(out.fileHandleForReading.readDataToEndOfFile()) }
        DispatchQueue.global().async(group: readers) { stderr.set(err.fileHandleForReading.readDataToEndOfFile()) }
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                process.terminate()
                if readers.wait(timeout: .now() + 2) == .timedOut, process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                }
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        // A grandchild that inherited the pipes (it should not) would keep them open: do not wait forever.
        let closed = readers.wait(timeout: .now() + 10) == .success
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdout.get(), as: UTF8.self),
            stderr: String(decoding: stderr.get(), as: UTF8.self)
                + (closed ? "" : "\n[output still open 10 s after the process exited]"),
            timedOut: timedOut
        )
    }

    /// Data read by a pipe reader, handed to the waiting thread.
    private final class Collected: Sendable {
        private let data = Mutex<Data>(Data())
        func set(_ value: Data) { data.withLock { $0 = value } }
        func get() -> Data { data.withLock { $0 } }
    }
}

/// A private network of Linux network namespaces — one "host" per namespace — joined by a bridge that
/// lives in a namespace of its own, so nothing is added to (or routed from) the machine's own network.
///
///     namespace <prefix>sw:   br0 ── v-fe, v-c1, … (one veth end per host)
///     namespace <prefix>fe:   eth0 = 10.77.0.10/24 (the other end of v-fe)   … and so on
///
/// Names carry the creating process's id (`pygmy-mh-<pid>-…`), so concurrent test runs never meet,
/// and namespaces left behind by a crashed run (whose process is gone) are removed by `removeStale()`.
final class MultiHostNetwork {
    struct Host {
        /// Short id: also the suffix of the namespace and of the switch port (`v-<id>`).
        var id: String
        var namespace: String
        var address: String
        var switchPort: String { "v-\(id)" }
    }

    static let prefix = "pygmy-mh-"
    /// The subnet exists only inside the namespaces; nothing routes it anywhere else.
    static let subnetPrefixLength = 24

    let ip: String
    let runPrefix: String
    let switchNamespace: String
    private(set) var hosts: [String: Host] = [:]
    private var created: [String] = []

    init(ip: String) {
        self.ip = ip
        runPrefix = "\(Self.prefix)\(getpid())-"
        switchNamespace = "\(runPrefix)sw"
    }

    // MARK: Prerequisites

    /// `ip` from iproute2, or nil.
    static let ipExecutable: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why the test cannot run here, or nil when it can (root on Linux with `ip netns`).
    static let unavailableReason: String? = {
        #if os(Linux)
        guard geteuid() == 0 else { return "not running as root (network namespaces need CAP_SYS_ADMIN)" }
        guard let ip = ipExecutable else { return "iproute2's `ip` is not installed" }
        guard let result = try? MultiHostCommand.runBlocking(ip, ["netns", "list"], timeout: .seconds(5)),
            result.status == 0
        else { return "`ip netns list` fails here" }
        return nil
        #else
        return "network namespaces are Linux only"
        #endif
    }()

    // MARK: Building and tearing down

    /// Runs `ip arguments…` (on a thread of its own: see `MultiHostCommand.run`), throwing with its output
    /// when it fails.
    @discardableResult
    func ipCommand(_ arguments: [String]) async throws -> String {
        let result = try await MultiHostCommand.run(ip, arguments, timeout: .seconds(10))
        guard result.status == 0 else {
            throw MultiHostCommand.LaunchError(
                description: "ip \(arguments.joined(separator: " ")) failed (\(result.status)): "
                    + result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
        return result.stdout
    }

    /// Namespaces whose name starts with `prefix`.
    func namespaces(withPrefix prefix: String) async -> [String] {
        let list = (try? await ipCommand(["netns", "list"])) ?? ""
        return list.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map(String.init)
        }.filter { $0.hasPrefix(prefix) }
    }

    /// Removes namespaces of earlier runs whose process no longer exists (a crashed or killed test).
    func removeStale() async {
        for namespace in await namespaces(withPrefix: Self.prefix) {
            let rest = namespace.dropFirst(Self.prefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ pid_t($0) }) else { continue }
            if pid == getpid() || (kill(pid, 0) == -1 && errno == ESRCH) {
                print("[multihost] removing stale namespace \(namespace)")
                await delete(namespace)
            }
        }
    }

    /// Kills whatever still runs inside `namespace` and deletes it (which destroys its veth ends).
    private func delete(_ namespace: String) async {
        for _ in 0..<3 {
            let pids = ((try? await ipCommand(["netns", "pids", namespace])) ?? "").split(separator: "\n").compactMap {
                pid_t($0.trimmingCharacters(in: .whitespaces))
            }
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        _ = try? await ipCommand(["netns", "delete", namespace])
    }

    /// The switch namespace with its bridge; call before `addHost`.
    func createSwitch() async throws {
        try await ipCommand(["netns", "add", switchNamespace])
        created.append(switchNamespace)
        try await ipCommand(["-n", switchNamespace, "link", "add", "br0", "type", "bridge"])
        try await ipCommand(["-n", switchNamespace, "link", "set", "br0", "up"])
    }

    /// A new namespace `id` with `eth0` = `address`, plugged into the bridge.
    @discardableResult
    func addHost(_ id: String, address: String) async throws -> Host {
        let host = Host(id: id, namespace: "\(runPrefix)\(id)", address: address)
        try await ipCommand(["netns", "add", host.namespace])
        created.append(host.namespace)
        // Both ends are created directly inside namespaces of this run, never in the machine's own.
        try await ipCommand([
            "-n", switchNamespace, "link", "add", host.switchPort, "type", "veth", "peer", "name", "eth0", "netns",
            host.namespace,
        ])
        try await ipCommand(["-n", switchNamespace, "link", "set", host.switchPort, "master", "br0"])
        try await ipCommand(["-n", switchNamespace, "link", "set", host.switchPort, "up"])
        try await ipCommand([
            "-n", host.namespace, "addr", "add", "\(address)/\(Self.subnetPrefixLength)", "dev", "eth0",
        ])
        try await ipCommand(["-n", host.namespace, "link", "set", "eth0", "up"])
        try await ipCommand(["-n", host.namespace, "link", "set", "lo", "up"])
        hosts[id] = host
        return host
    }

    /// Adds a second address to host `id`'s `eth0`.
    func addAddress(_ address: String, to id: String) async throws {
        try await ipCommand([
            "-n", hosts[id]!.namespace, "addr", "add", "\(address)/\(Self.subnetPrefixLength)", "dev", "eth0",
        ])
    }

    /// Unplugs (or plugs back) a host's cable at the switch: its packets are silently dropped, as when a
    /// switch port or a cable fails; the host itself keeps its address and running processes.
    func setLink(of id: String, up: Bool) async throws {
        try await ipCommand(["-n", switchNamespace, "link", "set", hosts[id]!.switchPort, up ? "up" : "down"])
    }

    /// `ip netns exec NAMESPACE` + `command`: the argument vector that runs `command` on host `id`.
    func onHost(_ id: String, _ command: [String]) -> (executable: String, arguments: [String]) {
        (ip, ["netns", "exec", hosts[id]!.namespace] + command)
    }

    /// Deletes every namespace of this run (hosts first, then the switch), killing what still runs there.
    /// Returns the namespaces of this run that still exist afterwards (normally none).
    @discardableResult
    func destroy() async -> [String] {
        for namespace in created.reversed() { await delete(namespace) }
        created.removeAll()
        return await namespaces(withPrefix: runPrefix)
    }
}

/// One `pygmy node` process on one host, logging to a file.
final class MultiHostNode {
    /// Stops `nodes`: SIGTERM, SIGKILL for any still running after 5 s (named with `label`); then, when
    /// `printLogs`, prints each node's log with its address on `network`.
    static func stopAll(_ nodes: [MultiHostNode], label: String, printLogs: Bool, network: MultiHostNetwork) async {
        for node in nodes { node.terminate() }
        let deadline = ContinuousClock.now + .seconds(5)
        while nodes.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for node in nodes where node.isRunning {
            print("[\(label)] \(node.name) ignored SIGTERM; killing it")
            node.kill()
        }
        for node in nodes where !(await node.process.exited(within: .seconds(30))) {
            Issue.record("\(node.name) still runs 30 s after SIGKILL")
        }
        guard printLogs else { return }
        for node in nodes {
            print("===== \(node.name) (\(node.role), \(network.hosts[node.hostID]?.address ?? "?")) log =====")
            print(node.log)
        }
    }

    /// Starts `pygmy node ROLE --config DIR/topology.json --name NAME` for each node of `layout`, each in
    /// its host's namespace, logging to `DIR/NAME.log`; each is appended to `nodes` as it starts, so a
    /// failure part-way leaves the started ones there for the tear-down.
    static func startAll(
        _ layout: [(name: String, host: String, role: String, address: String)],
        on network: MultiHostNetwork,
        directory: String,
        into nodes: inout [MultiHostNode]
    ) throws {
        for node in layout {
            let process = MultiHostNode(
                name: node.name,
                role: node.role,
                hostID: node.host,
                logPath: "\(directory)/\(node.name).log"
            )
            try process.start(
                network.onHost(
                    node.host,
                    [
                        PygmyProcess.executable, "node", node.role, "--config", "\(directory)/topology.json",
                        "--name", node.name,
                    ]
                )
            )
            nodes.append(process)
        }
    }

    let name: String
    let role: String
    let hostID: String
    let logPath: String
    let process = Process()

    init(name: String, role: String, hostID: String, logPath: String) {
        self.name = name
        self.role = role
        self.hostID = hostID
        self.logPath = logPath
    }

    func start(_ command: (executable: String, arguments: [String])) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
    }

    var isRunning: Bool { process.isRunning }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log at \(logPath))" }

    /// SIGTERM (a graceful stop); the caller escalates with `kill()` if it lingers.
    func terminate() { if process.isRunning { process.terminate() } }

    func kill() {
        if process.isRunning { _ = Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}
