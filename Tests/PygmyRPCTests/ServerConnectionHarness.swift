import Logging
import NIOCore
import NIOEmbedded
import PygmyWire
import Synchronization

@testable import PygmyRPC

/// Calls of `test.park` wait here until the test lets them go, so a call stays in flight without a clock.
final class Gates: Sendable {
    private let parked = Mutex<[CheckedContinuation<Void, Never>]>([])

    func park() async {
        await withCheckedContinuation { continuation in parked.withLock { $0.append(continuation) } }
    }

    func releaseAll() {
        let all = parked.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for continuation in all { continuation.resume() }
    }
}

enum Park: RPCMethod {
    typealias Request = Int
    typealias Response = Int
    static let name = "test.park"
}

/// A server connection (frame decoder and `ServerConnectionHandler`) on an `EmbeddedChannel`: bytes in,
/// decoded frames out, no sockets and no clocks.
final class ServerConnectionHarness {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let gates = Gates()
    private var output = ByteBuffer()
    private var decoder = FrameDecoder()

    init() throws {
        channel = EmbeddedChannel(loop: loop)
        var router = RPCRouter()
        let gates = self.gates
        router.register(Echo.self) { text, _ in text }
        router.register(Park.self) { n, _ in
            await gates.park()
            try Task.checkCancellation()
            return n
        }
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(
            ServerConnectionHandler(
                router: router,
                configuration: RPCServer.Configuration(),
                connectionID: 1,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        )
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
        loop.run()
        try send(hello())
        guard case .hello = try received().first else { throw HarnessError.noHello }
    }

    enum HarnessError: Error { case noHello }

    /// Delivers `bytes` as one read and runs what it started.
    func send(_ bytes: [UInt8]) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        loop.run()
    }

    func send(_ frame: Frame) throws { try send(frameBytes(frame)) }

    func request(_ stream: UInt32, _ method: String, _ payload: [UInt8]) throws {
        try send(.request(streamID: stream, method: method, timeoutMicros: 0, payload: ByteBuffer(bytes: payload)))
    }

    /// Lets every parked call finish.
    func releaseParked() {
        gates.releaseAll()
        loop.run()
    }

    /// What the server wrote since the last call, decoded.
    func received() throws -> [WireMessage] {
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            var b = buffer
            output.writeBuffer(&b)
        }
        var messages: [WireMessage] = []
        while let message = try decoder.decodeMessage(&output) { messages.append(message) }
        return messages
    }

    /// The frames the server wrote since the last call.
    func frames() throws -> [Frame] {
        try received().compactMap { if case .frame(let f) = $0 { f } else { nil } }
    }

    var isOpen: Bool { channel.isActive }

    func finish() {
        gates.releaseAll()
        _ = try? channel.finish(acceptAlreadyClosed: true)
        loop.run()
        try? loop.syncShutdownGracefully()
    }
}

/// The payload of `value` in the binary encoding.
func encoded<T: Encodable>(_ value: T) -> [UInt8] { try! BinaryEncoder().encode(value) }

extension Frame {
    /// The code and stream of an error frame, or nil for any other frame.
    var errorCode: (stream: UInt32, code: UInt16)? {
        if case .error(let stream, let code, _) = self { (stream, code) } else { nil }
    }
}
