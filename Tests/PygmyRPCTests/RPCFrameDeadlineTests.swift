import NIOCore
import PygmyRPC
import PygmyWire
import Testing

/// The frame deadline (slowloris clients), requests on the reserved stream 0, and server limits as a
/// deployment file gives them.
@Suite struct RPCFrameDeadlineTests {
    /// What a raw connection received: the server's hello (if any), then its frames.
    static func decoded(_ bytes: [UInt8]) throws -> (hello: Hello?, frames: [Frame]) {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: bytes)
        var hello: Hello?
        var frames: [Frame] = []
        while let message = try decoder.decodeMessage(&buffer) {
            switch message {
            case .hello(let h): hello = h
            case .frame(let f): frames.append(f)
            }
        }
        return (hello, frames)
    }

    static func request(_ stream: UInt32, _ method: String, _ payload: [UInt8]) -> [UInt8] {
        frameBytes(.request(streamID: stream, method: method, timeoutMicros: 0, payload: ByteBuffer(bytes: payload)))
    }

    @Test func aFrameTrickledInIsCutOffAtTheDeadlineWhileAGoodClientIsServed() async throws {
        try await withTestServer({ $0.frameTimeout = .seconds(1) }) { (_: RPCServer, port: Int) async throws -> Void in
            let good = RPCClient(host: "127.0.0.1", port: port)
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(hello())
            let frame = Self.request(1, Echo.name, try BinaryEncoder().encode("slowly"))
            let firstByte = ContinuousClock.now
            var sent = 0
            var served = 0
            for byte in frame {  // one byte per 100 ms: the frame needs about 3.5 s
                guard raw.channel.isActive, (try? await raw.send([byte])) != nil else { break }
                sent += 1
                if try await good.call(Echo.self, "call \(sent)") == "call \(sent)" { served += 1 }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await raw.waitForClose(timeout: .seconds(3)))
            let lifetime = ContinuousClock.now - firstByte
            #expect(sent < frame.count, "all \(frame.count) bytes got through: the frame was never cut off")
            #expect(lifetime >= .milliseconds(950), "closed \(lifetime) after the first byte, before the deadline")
            #expect(served == sent, "the good client was not served while the slow one trickled")
            let (serverHello, frames) = try Self.decoded(raw.bytes)
            #expect(serverHello != nil)
            guard case .error(0, let code, let message)? = frames.first, frames.count == 1 else {
                Issue.record("expected one error frame on stream 0, got \(frames)")
                return
            }
            #expect(code == RPCError.Code.deadlineExceeded.rawValue)
            #expect(message.contains("frame timeout") && message.contains("a frame of \(frame.count - 4) bytes"))
            #expect(try await good.call(Echo.self, "after") == "after")
            await good.close()
        }
    }

    @Test func aHelloTrickledInIsCutOffBeforeTheHandshakeTimeout() async throws {
        try await withTestServer({
            $0.frameTimeout = .milliseconds(500)
            $0.handshakeTimeout = .seconds(60)
        }) { (_: RPCServer, port: Int) async throws -> Void in
            let raw = try await RawConnection.connect(port: port)
            let firstByte = ContinuousClock.now
            var sent = 0
            for byte in hello() {  // one byte per 200 ms: 1.6 s for the hello
                guard raw.channel.isActive, (try? await raw.send([byte])) != nil else { break }
                sent += 1
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(await raw.waitForClose(timeout: .seconds(3)))
            #expect(sent < Hello.length, "the whole hello got through")
            #expect(ContinuousClock.now - firstByte >= .milliseconds(450))
            #expect(raw.bytes.isEmpty, "the server answered a hello it never completely got")
        }
    }

    /// While the connection has its maximum of calls in flight the server stops reading, so a frame that
    /// arrived in part cannot be finished: the deadline must wait for reading to resume.
    @Test func aFrameHeldUpByBackPressureIsNotCutOff() async throws {
        try await withTestServer({
            $0.frameTimeout = .milliseconds(300)
            $0.maxConcurrentCallsPerConnection = 1
        }) { (_: RPCServer, port: Int) async throws -> Void in
            let raw = try await RawConnection.connect(port: port)
            let echo = Self.request(3, Echo.name, try BinaryEncoder().encode("x"))
            let half = echo.count / 2
            // One write: the hello, a call that keeps the only slot busy for 1 s, and half a frame.
            try await raw.send(
                hello() + Self.request(1, Sleep.name, try BinaryEncoder().encode(1000)) + echo.prefix(half)
            )
            try await Task.sleep(for: .milliseconds(700))  // well past the 300 ms deadline
            try await raw.send(Array(echo.dropFirst(half)))
            let deadline = ContinuousClock.now + .seconds(10)
            while (try? Self.decoded(raw.bytes).frames.count) ?? 0 < 2 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let frames = try Self.decoded(raw.bytes).frames
            #expect(frames.count == 2, "\(frames)")
            #expect(frames.allSatisfy { if case .response = $0 { true } else { false } }, "\(frames)")
            #expect(raw.channel.isActive)
        }
    }

    @Test func aRequestOnStreamZeroIsAProtocolViolation() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let good = RPCClient(host: "127.0.0.1", port: port)
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(hello() + Self.request(0, Echo.name, try BinaryEncoder().encode("zero")))
            #expect(await raw.waitForClose())
            let frames = try Self.decoded(raw.bytes).frames
            guard case .error(0, let code, let message)? = frames.first, frames.count == 1 else {
                Issue.record("expected one error frame on stream 0 and no answer, got \(frames)")
                return
            }
            #expect(code == RPCError.Code.protocolViolation.rawValue)
            #expect(message.contains("stream 0"))
            #expect(try await good.call(Echo.self, "fine") == "fine")
            await good.close()
        }
    }

    @Test func limitsFromAFileOverrideFieldByFieldAndApply() throws {
        let cluster = RPCServerLimits(handshakeTimeoutMillis: 2000, idleTimeoutMillis: 60_000, maxConnections: 50)
        let node = RPCServerLimits(frameTimeoutMillis: 0, idleTimeoutMillis: 700, maxFrameLength: 4096)
        let merged = node.over(cluster)
        #expect(
            merged
                == RPCServerLimits(
                    handshakeTimeoutMillis: 2000,
                    frameTimeoutMillis: 0,
                    idleTimeoutMillis: 700,
                    maxConnections: 50,
                    maxFrameLength: 4096
                )
        )
        var configuration = RPCServer.Configuration()
        merged.apply(to: &configuration)
        #expect(configuration.handshakeTimeout == .seconds(2))
        #expect(configuration.frameTimeout == nil)
        #expect(configuration.idleTimeout == .milliseconds(700))
        #expect(configuration.maxConnections == 50)
        #expect(configuration.maxFrameLength == 4096)
        #expect(
            configuration.maxConcurrentCallsPerConnection == RPCServer.Configuration().maxConcurrentCallsPerConnection
        )
        #expect(merged.problem() == nil)
        #expect(RPCServerLimits(maxConnections: 0).problem() == "maxConnections must be at least 1, not 0")
        #expect(RPCServerLimits(idleTimeoutMillis: -1).problem()?.contains("idleTimeoutMillis") == true)
        #expect(RPCServerLimits(maxFrameLength: 10).problem()?.contains("maxFrameLength") == true)
    }
}
