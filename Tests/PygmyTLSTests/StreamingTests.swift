import NIOCore
import PygmyTLS
import Synchronization
import Testing

/// Data larger than a TLS record, many writes, writes before the handshake, and abrupt or clean closes.
@Suite("Streaming")
struct StreamingTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates.shared() }

    private func connectedPair() async throws -> (TestServer, TestClient) {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context("client"))
        return (server, client)
    }

    @Test("a 1 MiB write is echoed intact")
    func largeFrame() async throws {
        let (server, client) = try await connectedPair()
        var generator = SystemRandomNumberGenerator()
        let payload = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try await client.send(payload)
        let seen = try await client.recorder.wait("1 MiB echo") { $0.received.readableBytes >= payload.count }
        #expect(seen.received.readableBytes == payload.count)
        #expect(Array(seen.received.readableBytesView) == payload)
        #expect(seen.tlsErrors.isEmpty && server.recorder.snapshot.tlsErrors.isEmpty)
        await client.close()
        try await server.stop()
    }

    @Test("many concurrent writes all arrive, each writer's bytes in order")
    func manyConcurrentWrites() async throws {
        let (server, client) = try await connectedPair()
        let writers = 4
        let writesPerWriter = 250
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<writesPerWriter {
                        let message = ByteBuffer(
                            bytes: [UInt8(writer)] + Array(repeating: UInt8(index % 256), count: 1 + index % 700)
                        )
                        client.channel.write(message, promise: nil)
                        if index % 50 == 49 { try await client.channel.writeAndFlush(ByteBuffer()) }
                    }
                    try await client.channel.writeAndFlush(ByteBuffer())
                }
            }
            try await group.waitForAll()
        }
        let expectedBytes = writers * (0..<writesPerWriter).reduce(0) { $0 + 2 + $1 % 700 }
        let seen = try await client.recorder.wait("all echoes") { $0.received.readableBytes >= expectedBytes }
        #expect(seen.received.readableBytes == expectedBytes)
        #expect(server.recorder.snapshot.received.readableBytes == expectedBytes)
        #expect(seen.tlsErrors.isEmpty)
        await client.close()
        try await server.stop()
    }

    @Test("writes issued before the handshake completes are sent after it")
    func writesBeforeHandshake() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let pendingAtWrite = Mutex<Bool?>(nil)
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context("client")) {
            channel in
            // Runs in channelActive: the ClientHello is out, the server's answer cannot have arrived yet.
            let handler = try channel.pipeline.syncOperations.handler(type: OpenSSLHandler.self)
            pendingAtWrite.withLock { $0 = handler.handshakeDetails == nil }
            channel.write(ByteBuffer(string: "early "), promise: nil)
            channel.writeAndFlush(ByteBuffer(string: "bird"), promise: nil)
        }
        let seen = try await client.recorder.wait("early echo") { $0.receivedString == "early bird" }
        #expect(pendingAtWrite.withLock { $0 } == true, "the writes must have been issued during the handshake")
        #expect(seen.handshakes.count == 1)
        await client.close()
        try await server.stop()
    }

    @Test("close sends close_notify: the server sees a clean close")
    func gracefulClose() async throws {
        let (server, client) = try await connectedPair()
        try await client.roundTrip("bye")
        await client.close()
        let seen = try await server.recorder.wait("server connection closed") { $0.inactiveCount == 1 }
        #expect(seen.tlsErrors.isEmpty, "close_notify must not be reported as an unclean shutdown")
        #expect(client.recorder.snapshot.tlsErrors.isEmpty)
        try await server.stop()
    }

    @Test("a peer vanishing in the middle of a TLS record is reported, and the server keeps serving")
    func peerClosesMidStream() async throws {
        let (server, client) = try await connectedPair()
        try await client.roundTrip("first")
        try await client.channel.triggerUserOutboundEvent(TruncateNextWrite())
        try? await client.send(Array(repeating: UInt8(ascii: "x"), count: 200_000))
        let seen = try await server.recorder.wait("server connection closed") { $0.inactiveCount == 1 }
        #expect(seen.received.readableBytes < 5 + 200_000, "the second half never arrived")
        // Depending on timing the server sees a FIN (no close_notify) or, if our echo was still unread, a reset.
        let reportedAbruptClose =
            seen.tlsErrors.map(\.message) == ["TLS connection closed by the peer without close_notify"]
            || (seen.tlsErrors.isEmpty && seen.otherErrors.contains { $0.contains("Connection reset by peer") })
        #expect(reportedAbruptClose, "\(seen)")
        try await server.expectServesGoodClient(certificates)
        try await server.stop()
    }

    @Test("a server vanishing mid-stream is reported to the client")
    func serverClosesMidStream() async throws {
        let (server, client) = try await connectedPair()
        try await client.roundTrip("hello")
        server.abortConnections()
        let seen = try await client.recorder.wait("client closed") { $0.inactiveCount == 1 }
        #expect(seen.tlsErrors.map(\.kind) == [.uncleanShutdown])
        try await server.expectServesGoodClient(certificates)
        try await server.stop()
    }
}
