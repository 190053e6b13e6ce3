import Foundation
import NIOCore
import NIOPosix
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import PygmyWire
import Synchronization
import Testing

/// A local cluster of real `pygmy node` processes (one frontend, two catalog and two order replicas on
/// 127.0.0.1), with a topology written here: the four books of the store with plenty of stock for the
/// honest clients, and item 9 for attacks that change data.
final class HostileCluster: @unchecked Sendable {
    struct Node {
        var name: String
        var role: NodeRole
        var port: Int
        var process: Process
        var logPath: String
    }

    let directory: String
    private(set) var nodes: [Node] = []

    static let names: [(String, NodeRole)] = [
        ("frontend", .frontend), ("catalog-1", .catalog), ("catalog-2", .catalog), ("order-1", .order),
        ("order-2", .order),
    ]

    init() {
        directory = PygmyProcess.temporaryDirectory("pygmy-hostile")
    }

    /// Writes the topology and books, starts every node and waits until the frontend sees all of them ready.
    func start() async throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        let books =
            CatalogSeed.original.map {
                CatalogSeed(item: $0.item, title: $0.title, topic: $0.topic, stock: 1_000_000, cost: $0.cost)
            } + [CatalogSeed(item: 9, title: "Target Practice", topic: "attacks", stock: 10, cost: 10)]
        try JSONEncoder().encode(books).write(to: URL(fileURLWithPath: directory + "/books.json"))
        let base = PygmyProcess.freeBasePort()
        var specs: [NodeSpec] = []
        for (offset, (name, role)) in Self.names.enumerated() {
            specs.append(
                NodeSpec(
                    name: name,
                    role: role,
                    host: "127.0.0.1",
                    port: base + offset,
                    dataDir: role == .frontend ? nil : "data/\(name)"
                )
            )
        }
        var topology = Topology(nodes: specs, baseDirectory: directory)
        topology.books = "books.json"
        topology.heartbeatMillis = 100
        try topology.validate()
        let topologyPath = directory + "/topology.json"
        try topology.write(to: topologyPath)
        for spec in specs {
            let logPath = "\(directory)/logs/\(spec.name).log"
            _ = fm.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PygmyProcess.executable)
            process.arguments = ["node", spec.role.rawValue, "--config", topologyPath, "--name", spec.name]
            process.standardOutput = log
            process.standardError = log
            process.standardInput = FileHandle.nullDevice
            try process.run()
            nodes.append(Node(name: spec.name, role: spec.role, port: spec.port, process: process, logPath: logPath))
        }
        try await waitUntilHealthy()
    }

    func node(_ name: String) -> Node { nodes.first { $0.name == name }! }
    func port(_ name: String) -> Int { node(name).port }

    /// Whether the node's process is still running (a zombie counts as dead).
    func isAlive(_ name: String) -> Bool {
        let process = node(name).process
        guard process.isRunning else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }

    var deadNodes: [String] { nodes.map(\.name).filter { !isAlive($0) } }

    /// Resident memory of the node's process in KiB, from /proc/PID/status.
    func residentKiB(_ name: String) -> Int? {
        let pid = node(name).process.processIdentifier
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// The crash report of a node that died (its fatal error and the first frames of the crashed thread),
    /// or the end of its log.
    func logTail(_ name: String, lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: node(name).logPath, encoding: .utf8)) ?? ""
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let fatal = all.firstIndex(where: { $0.contains("Fatal error") || $0.contains("Crash") }) {
            return all[fatal...].prefix(lines).joined(separator: "\n")
        }
        return all.suffix(lines).joined(separator: "\n")
    }

    func client(_ name: String = "frontend", timeout: Duration = .seconds(10)) -> RPCClient {
        var configuration = RPCClient.Configuration()
        configuration.defaultTimeout = timeout
        configuration.backoff.initial = .milliseconds(20)
        configuration.backoff.maximum = .milliseconds(200)
        return RPCClient(host: "127.0.0.1", port: port(name), configuration: configuration)
    }

    /// Waits until the frontend reports every node ready and every peer up.
    func waitUntilHealthy(timeout: Duration = .seconds(40)) async throws {
        let client = client(timeout: .seconds(2))
        defer { Task { await client.close() } }
        let deadline = ContinuousClock.now + timeout
        var last = "no answer"
        while ContinuousClock.now < deadline {
            if !deadNodes.isEmpty { throw HostileError("nodes died while starting: \(deadNodes)") }
            do {
                let status = try await client.call(Frontend.Status.self, Empty())
                let ready = Set(status.nodes.filter { $0.state == "ready" }.map(\.name))
                let seen = Set(status.nodes.first { $0.role == "frontend" }?.peersUp ?? [])
                if ready.count == nodes.count && seen.count == nodes.count - 1 { return }
                last = "ready: \(ready.sorted()), frontend sees \(seen.sorted())"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HostileError("cluster not healthy after \(timeout): \(last)")
    }

    /// SIGTERM to every node, SIGKILL to those still running after five seconds; then removes the directory
    /// unless `keep` (to read the logs of a failed run).
    func stop(keep: Bool) async {
        for node in nodes where node.process.isRunning { node.process.terminate() }
        let deadline = ContinuousClock.now + .seconds(5)
        while nodes.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for node in nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) }
        for node in nodes where !(await node.process.exited(within: .seconds(30))) {
            Issue.record("\(node.name) (pid \(node.process.processIdentifier)) still runs 30 s after SIGKILL")
        }
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }
}

struct HostileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A raw TCP connection to a node: sends arbitrary bytes, collects what comes back, notices the close.
final class RawConnection: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        let closedAt = Mutex<ContinuousClock.Instant?>(nil)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closedAt.withLock { $0 = .now }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let collector: Collector
    let openedAt: ContinuousClock.Instant

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
        self.openedAt = .now
    }

    static func connect(port: Int) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    /// Writes `bytes`; false when the connection is already gone.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
            return true
        } catch {
            return false
        }
    }

    var received: [UInt8] { collector.received.withLock { $0 } }
    var closedAt: ContinuousClock.Instant? { collector.closedAt.withLock { $0 } }
    var isClosed: Bool { closedAt != nil }

    /// Waits until the peer closes the connection or `timeout` passes; true if it closed.
    func waitClosed(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isClosed && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(25)) }
        return isClosed
    }

    /// Waits until `condition` holds for what arrived, the connection closes, or `timeout` passes.
    func waitFor(within timeout: Duration, _ condition: ([UInt8]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(received) { return true }
            if isClosed { return condition(received) }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return condition(received)
    }

    func close() async { try? await channel.close() }

    /// What the server sent, decoded as a client decodes it: the hello, frames, and the error that stopped
    /// the decoding if the bytes were not a valid stream (a server must never send such bytes).
    func decoded() -> (messages: [WireMessage], error: (any Error)?) {
        var decoder = FrameDecoder(expectHello: true)
        var buffer = ByteBuffer(bytes: received)
        var messages: [WireMessage] = []
        do {
            while let message = try decoder.decodeMessage(&buffer) { messages.append(message) }
        } catch {
            return (messages, error)
        }
        return (messages, nil)
    }

    /// The error frames received: (stream id, code).
    func errorFrames() -> [(stream: UInt32, code: UInt16, message: String)] {
        decoded().messages.compactMap {
            if case .frame(.error(let stream, let code, let message)) = $0 { return (stream, code, message) }
            return nil
        }
    }
}

/// Bytes of the wire protocol, for writing attacks by hand.
enum Wire {
    static let clientHello: [UInt8] = [0x50, 0x59, 0x47, 0x4d, 1, 1, 0, 0]

    static func frame(_ frame: Frame) -> [UInt8] {
        var buffer = ByteBuffer()
        FrameWriter.write(frame, to: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func request(
        _ stream: UInt32,
        _ method: String,
        _ payload: [UInt8],
        timeoutMicros: UInt64 = 5_000_000
    )
        -> [UInt8]
    {
        frame(
            .request(
                streamID: stream,
                method: method,
                timeoutMicros: timeoutMicros,
                payload: ByteBuffer(bytes: payload)
            )
        )
    }

    static func request<M: RPCMethod>(_ stream: UInt32, _ method: M.Type, _ value: M.Request) -> [UInt8] {
        request(stream, M.name, (try? BinaryEncoder().encode(value)) ?? [])
    }

    static func random(_ count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
