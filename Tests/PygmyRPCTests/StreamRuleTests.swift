import NIOCore
import PygmyWire
import Testing

@testable import PygmyRPC

/// PROTOCOL.md §3.3–§3.5 on the server side: one answer per stream, what each out-of-place frame gets,
/// and the goAway rules. Every test drives a server connection on an `EmbeddedChannel`.
@Suite struct StreamRuleTests {
    static let violation = RPCError.Code.protocolViolation.rawValue

    /// Expects the server's last words to be error 17 on stream 0, then a closed connection.
    func expectViolation(_ server: ServerConnectionHarness, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let frames = try server.frames()
        #expect(frames.last?.errorCode?.stream == 0, "\(frames)", sourceLocation: sourceLocation)
        #expect(frames.last?.errorCode?.code == Self.violation, "\(frames)", sourceLocation: sourceLocation)
        #expect(!server.isOpen, "the connection stayed open", sourceLocation: sourceLocation)
    }

    @Test("§3.3 a request on a stream id still in flight is a protocol violation, and the stream gets no answer")
    func requestOnAStreamInFlight() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.request(1, Park.name, encoded(5))
        try server.request(1, Echo.name, encoded("again"))
        try expectViolation(server)
        server.releaseParked()
        #expect(try server.frames().isEmpty, "an answer on stream 1 after the connection failed")
    }

    @Test("§3.3 a stream id may be used again once its call was answered")
    func streamIdReusedAfterItsAnswer() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.request(1, Echo.name, encoded("one"))
        try server.request(1, Echo.name, encoded("two"))
        let frames = try server.frames()
        #expect(
            frames == [
                .response(streamID: 1, payload: ByteBuffer(bytes: encoded("one"))),
                .response(streamID: 1, payload: ByteBuffer(bytes: encoded("two"))),
            ]
        )
        #expect(server.isOpen)
    }

    @Test("§3.3 a request on stream 0 is a protocol violation and does not run")
    func requestOnStreamZero() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.request(0, Echo.name, encoded("x"))
        try expectViolation(server)
    }

    @Test(
        "§3.4 a response, error, push or goAway frame from a client is a protocol violation",
        arguments: [
            Frame.response(streamID: 1, payload: ByteBuffer(bytes: [1])),
            .error(streamID: 1, code: 2, message: "x"),
            .error(streamID: 0, code: 2, message: "x"),
            .push(topic: "t", payload: ByteBuffer(bytes: [1])),
            .goAway(reason: "bye"),
        ]
    )
    func serverOnlyFrameFromAClient(_ frame: Frame) throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.send(frame)
        try expectViolation(server)
    }

    @Test("§3.4 a ping on a non-zero stream is a protocol violation")
    func pingOnAStream() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.send([0, 0, 0, 14, 5, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8))
        try expectViolation(server)
    }

    @Test("§3.4 a ping whose value is not 8 bytes is a protocol violation", arguments: [4, 9])
    func pingOfTheWrongLength(_ length: Int) throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.send([0, 0, 0, UInt8(6 + length), 5, 0, 0, 0, 0, 0] + [UInt8](repeating: 7, count: length))
        try expectViolation(server)
    }

    @Test("§3.4 a ping is answered with a pong carrying its value")
    func pingGetsPong() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.send(.ping(42))
        #expect(try server.frames() == [.pong(42)])
    }

    @Test("§3.4 a cancel for a stream with no call is ignored", arguments: [UInt32(0), 1, 99])
    func cancelForAnUnknownStream(_ stream: UInt32) throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.request(1, Echo.name, encoded("done"))
        _ = try server.frames()
        try server.send(.cancel(streamID: stream))
        try server.request(2, Echo.name, encoded("still open"))
        #expect(try server.frames() == [.response(streamID: 2, payload: ByteBuffer(bytes: encoded("still open")))])
        #expect(server.isOpen)
    }

    @Test("§3.4 a cancelled call gets no answer")
    func cancelledCallIsSilent() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.request(1, Park.name, encoded(1))
        try server.send(.cancel(streamID: 1))
        server.releaseParked()
        #expect(try server.frames().isEmpty)
        #expect(server.isOpen)
    }

    @Test("§3.4 a pong that answers no ping and a frame of unknown kind are ignored")
    func unsolicitedPongAndUnknownKind() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.send(.pong(1))
        try server.send([0, 0, 0, 9, 0x2A, 0x80, 0, 0, 0, 5, 1, 2, 3])
        try server.request(1, Echo.name, encoded("x"))
        #expect(try server.frames() == [.response(streamID: 1, payload: ByteBuffer(bytes: encoded("x")))])
    }

    @Test("§3.5 after goAway an idle connection stays open and a new request gets error 14")
    func requestAfterGoAway() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        server.channel.pipeline.fireUserInboundEventTriggered(RPCServerDrainEvent())
        server.loop.run()
        #expect(try server.frames() == [.goAway(reason: "server shutting down")])
        #expect(server.isOpen, "the server closed an idle connection at once after goAway")
        try server.request(3, Echo.name, encoded("late"))
        let frames = try server.frames()
        #expect(frames.count == 1)
        #expect(frames.first?.errorCode?.stream == 3)
        #expect(frames.first?.errorCode?.code == RPCError.Code.unavailable.rawValue)
    }

    @Test("§3.5 after goAway the calls in flight still get their answers")
    func callsInFlightFinishAfterGoAway() throws {
        let server = try ServerConnectionHarness()
        defer { server.finish() }
        try server.request(1, Park.name, encoded(9))
        server.channel.pipeline.fireUserInboundEventTriggered(RPCServerDrainEvent())
        server.loop.run()
        server.releaseParked()
        #expect(
            try server.frames() == [
                .goAway(reason: "server shutting down"), .response(streamID: 1, payload: ByteBuffer(bytes: encoded(9))),
            ]
        )
    }
}
