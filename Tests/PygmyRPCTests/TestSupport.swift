import Logging
import NIOCore
import NIOPosix
import PygmyRPC
import PygmyWire
import Synchronization
import Testing

enum Echo: RPCMethod {
    typealias Request = String
    typealias Response = String
    static let name = "test.echo"
}

/// Sleeps for the requested milliseconds, then answers with them; records cancellations.
enum Sleep: RPCMethod {
    typealias Request = Int
    typealias Response = Int
    static let name = "test.sleep"
}

enum Fail: RPCMethod {
    typealias Request = Int
    typealias Response = Int
    static let name = "test.fail"
}

enum Subscribe: RPCMethod {
    typealias Request = String
    typealias Response = Bool
    static let name = "test.subscribe"
}

enum Note: RPCPushTopic {
    typealias Message = String
    static let name = "test.note"
}

struct Boom: Error {}

/// Counts events seen by server handlers.
final class Probe: Sendable {
    let cancelled = Atomic<Int>(0)
    let running = Atomic<Int>(0)
    let maxRunning = Atomic<Int>(0)

    func enter() {
        let now = running.add(1, ordering: .relaxed).newValue
        var seen = maxRunning.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = maxRunning.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }
    func leave() { running.subtract(1, ordering: .relaxed) }
}

func makeRouter(probe: Probe) -> RPCRouter {
    var router = RPCRouter()
    router.register(Echo.self) { request, _ in request }
    router.register(Sleep.self) { ms, _ in
        probe.enter()
        defer { probe.leave() }
        do {
            try await Task.sleep(for: .milliseconds(ms))
        } catch {
            probe.cancelled.add(1, ordering: .relaxed)
            throw error
        }
        return ms
    }
    router.register(Fail.self) { code, _ in
        if code == 0 { throw Boom() }
        throw RPCError(RPCError.Code(rawValue: UInt16(code)), "failed on purpose")
    }
    router.register(Subscribe.self) { text, context in
        let connection = context.connection
        Task {
            try await Task.sleep(for: .milliseconds(20))
            try await connection.push(Note.self, "pushed: \(text)")
        }
        return true
    }
    return router
}

/// A server on an ephemeral loopback port, shut down by `withTestServer`.
func withTestServer<T>(
    _ adjust: (inout RPCServer.Configuration) -> Void = { _ in },
    probe: Probe = Probe(),
    _ body: (RPCServer, Int) async throws -> T
) async throws -> T {
    var configuration = RPCServer.Configuration()
    configuration.shutdownGracePeriod = .seconds(2)
    adjust(&configuration)
    let server = RPCServer(configuration: configuration, router: makeRouter(probe: probe))
    let address = try await server.start()
    do {
        let result = try await body(server, address.port!)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// A raw TCP connection for sending bytes the real client never would.
final class RawConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let received = Mutex(ByteBuffer())
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    static func connect(port: Int) async throws -> RawConnection {
        let box = Mutex<RawConnection?>(nil)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let raw = RawConnection(channel: channel)
                    box.withLock { $0 = raw }
                    try channel.pipeline.syncOperations.addHandler(raw)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        _ = channel
        return box.withLock { $0! }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.withLock { $0.writeBuffer(&bytes) }
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    var bytes: [UInt8] { received.withLock { Array($0.readableBytesView) } }

    /// Waits until the server closes the connection; false if it is still open after `timeout`.
    func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while channel.isActive && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !channel.isActive
    }
}

func hello(_ role: PeerRole = .client, version: UInt8 = Hello.currentVersion) -> [UInt8] {
    var buffer = ByteBuffer()
    Hello(version: version, role: role).write(to: &buffer)
    return Array(buffer.readableBytesView)
}

func frameBytes(_ frame: Frame) -> [UInt8] {
    var buffer = ByteBuffer()
    FrameWriter.write(frame, to: &buffer)
    return Array(buffer.readableBytesView)
}
