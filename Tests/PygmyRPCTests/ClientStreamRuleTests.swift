import Logging
import NIOCore
import NIOEmbedded
import PygmyWire
import Synchronization
import Testing

@testable import PygmyRPC

/// A client connection (frame decoder and `ClientConnectionHandler`) on an `EmbeddedChannel`, past its
/// handshake.
final class ClientConnectionHarness {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let outcomes = Outcomes()

    /// Each call's outcome, by stream id: the response payload, or the error.
    final class Outcomes: Sendable {
        private let results = Mutex<[UInt32: Result<[UInt8], any Error>]>([:])
        subscript(stream: UInt32) -> Result<[UInt8], any Error>? {
            results.withLock { $0[stream] }
        }
        func record(_ stream: UInt32, _ result: Result<[UInt8], any Error>) {
            results.withLock { $0[stream] = result }
        }
    }

    init() throws {
        channel = EmbeddedChannel(loop: loop)
        let settings = ClientConnectionHandler.Settings(
            role: .client,
            maxConcurrentCalls: 8,
            maxQueuedCalls: 8,
            keepaliveInterval: nil,
            keepaliveTimeout: .seconds(5),
            handshakeTimeout: .seconds(10)
        )
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(
            ClientConnectionHandler(
                settings: settings,
                ready: loop.makePromise(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                onPush: { _, _ in },
                onGoAway: {}
            )
        )
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
        var serverHello = ByteBuffer()
        Hello(role: .frontend).write(to: &serverHello)
        try channel.writeInbound(serverHello)
        loop.run()
    }

    func call(_ stream: UInt32, _ payload: [UInt8]) throws {
        let promise = loop.makePromise(of: ByteBuffer.self)
        let outcomes = self.outcomes
        promise.futureResult.whenComplete { result in
            outcomes.record(stream, result.map { Array($0.readableBytesView) })
        }
        let call = ClientCall(streamID: stream, method: Echo.name, timeoutMicros: 0, payload: payload, promise: promise)
        try channel.writeOutbound(ClientCommand.call(call))
        loop.run()
    }

    func receive(_ frame: Frame) throws {
        try channel.writeInbound(ByteBuffer(bytes: frameBytes(frame)))
        loop.run()
    }

    /// The stream ids of the requests the client sent (after its hello).
    func sentRequests() throws -> [UInt32] {
        var bytes = ByteBuffer()
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&buffer) }
        var decoder = FrameDecoder()
        var streams: [UInt32] = []
        while let message = try decoder.decodeMessage(&bytes) {
            if case .frame(.request(let stream, _, _, _)) = message { streams.append(stream) }
        }
        return streams
    }

    func finish() {
        _ = try? channel.finish(acceptAlreadyClosed: true)
        loop.run()
        try? loop.syncShutdownGracefully()
    }
}

@Suite struct ClientStreamRuleTests {
    @Test("§3.5 after goAway a client sends no new request; a call made then fails with 14, unsent")
    func noRequestAfterGoAway() throws {
        let client = try ClientConnectionHarness()
        defer { client.finish() }
        try client.call(1, encoded("first"))
        try client.receive(.goAway(reason: "server shutting down"))
        try client.call(2, encoded("second"))
        #expect(try client.sentRequests() == [1])
        let second = client.outcomes[2]
        guard case .failure(let error as RPCError) = second else {
            Issue.record("the call after goAway did not fail with an RPC error: \(String(describing: second))")
            return
        }
        #expect(error.code == .unavailable)
        #expect(client.channel.isActive, "closed with a call in flight")
        try client.receive(.response(streamID: 1, payload: ByteBuffer(bytes: encoded("first"))))
        #expect((try? client.outcomes[1]?.get()) == encoded("first"))
        #expect(!client.channel.isActive, "the client keeps a drained connection open after goAway")
    }

    @Test("§3.5 a client closes an idle connection as soon as it reads goAway")
    func idleClientClosesOnGoAway() throws {
        let client = try ClientConnectionHarness()
        defer { client.finish() }
        try client.receive(.goAway(reason: "server shutting down"))
        #expect(!client.channel.isActive)
    }

    @Test("§3.4 a response or error for a stream with no call is ignored by the client")
    func lateAnswersAreIgnored() throws {
        let client = try ClientConnectionHarness()
        defer { client.finish() }
        try client.receive(.response(streamID: 7, payload: ByteBuffer(bytes: [1])))
        try client.receive(.error(streamID: 8, code: 4, message: "late"))
        #expect(client.channel.isActive)
    }

    @Test("§3.4 a request or cancel frame from a server closes the client's connection")
    func clientOnlyFramesFromAServer() throws {
        for frame in [
            Frame.request(streamID: 1, method: "x", timeoutMicros: 0, payload: ByteBuffer()), .cancel(streamID: 1),
        ] {
            let client = try ClientConnectionHarness()
            defer { client.finish() }
            try client.call(1, encoded("x"))
            try client.receive(frame)
            #expect(!client.channel.isActive)
            let outcome = client.outcomes[1]
            guard case .failure(let error as TransportError) = outcome else {
                Issue.record("the call in flight did not fail with a transport error: \(String(describing: outcome))")
                continue
            }
            #expect(error.kind == .protocolViolation)
        }
    }
}
