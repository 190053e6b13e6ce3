import NIOCore
import NIOPosix
import PygmyRPC
import PygmyWire
import Synchronization
import Testing

/// Connection-level behaviour: reconnects, keepalive, hostile peers, limits and graceful shutdown.
@Suite struct RPCConnectionTests {
    @Test func refusedConnectionBacksOffThenReconnectsWhenTheServerAppears() async throws {
        // Find a free port, then leave it closed.
        let probe = RPCServer(configuration: .init(), router: RPCRouter())
        let port = try await probe.start().port!
        await probe.shutdown()

        let client = RPCClient(
            host: "127.0.0.1",
            port: port,
            configuration: .defaults { $0.backoff.initial = .milliseconds(200) }
        )
        await #expect {
            _ = try await client.call(Echo.self, "x")
        } throws: { error in
            (error as? TransportError)?.kind == .connectFailed
        }
        // Straight after a failure the client fails fast instead of dialling again.
        await #expect {
            _ = try await client.call(Echo.self, "x")
        } throws: { error in
            (error as? TransportError)?.kind == .backingOff
        }
        let server = RPCServer(
            configuration: .defaults { $0.port = port },
            router: makeRouter(probe: Probe())
        )
        try await server.start()
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await client.call(Echo.self, "back") == "back")
        await client.close()
        await server.shutdown()
    }

    @Test func droppedConnectionFailsInFlightCallsAndTheNextCallReconnects() async throws {
        let server = RPCServer(
            configuration: .defaults { $0.shutdownGracePeriod = .milliseconds(200) },
            router: makeRouter(probe: Probe())
        )
        let port = try await server.start().port!
        let client = RPCClient(host: "127.0.0.1", port: port)
        #expect(try await client.call(Echo.self, "one") == "one")
        let slow = Task { try await client.call(Sleep.self, 5_000) }
        try await Task.sleep(for: .milliseconds(100))
        await server.shutdown()  // the grace period passes with the call still running: forced close
        await #expect {
            _ = try await slow.value
        } throws: { error in
            (error as? TransportError)?.kind == .connectionClosed
        }
        let restarted = RPCServer(
            configuration: .defaults { $0.port = port },
            router: makeRouter(probe: Probe())
        )
        try await restarted.start()
        #expect(try await client.call(Echo.self, "two") == "two")
        await client.close()
        await restarted.shutdown()
    }

    @Test func keepaliveDetectsAPeerThatStoppedAnswering() async throws {
        // A server that completes the hello and then ignores everything.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SilentPeer())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = RPCClient(
            host: "127.0.0.1",
            port: silent.localAddress!.port!,
            configuration: .defaults {
                $0.keepaliveInterval = .milliseconds(50)
                $0.keepaliveTimeout = .milliseconds(150)
            }
        )
        let start = ContinuousClock.now
        await #expect {
            _ = try await client.call(Echo.self, "anyone?")
        } throws: { error in
            (error as? TransportError)?.kind == .keepaliveTimeout
        }
        #expect(ContinuousClock.now - start < .seconds(3))
        await client.close()
        try await silent.close()
    }

    @Test func oversizedFrameGetsAnErrorAndOnlyThatConnectionCloses() async throws {
        try await withTestServer({ $0.maxFrameLength = 1024 }) { (_: RPCServer, port: Int) async throws -> Void in
            let good = RPCClient(host: "127.0.0.1", port: port)
            #expect(try await good.call(Echo.self, "before") == "before")
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(hello() + [0xFF, 0xFF, 0xFF, 0xFF])  // a 4 GiB frame
            #expect(await raw.waitForClose())
            // After the 8-byte hello the server explains itself on stream 0.
            let answer = raw.bytes
            #expect(answer.count > Hello.length)
            var buffer = ByteBuffer(bytes: answer)
            var decoder = FrameDecoder()
            _ = try decoder.decodeMessage(&buffer)
            let frame = try decoder.decodeMessage(&buffer)
            guard case .frame(.error(0, let code, let message)) = frame else {
                Issue.record("expected an error frame, got \(String(describing: frame))")
                return
            }
            #expect(code == RPCError.Code.resourceExhausted.rawValue)
            #expect(message.contains("limit is 1024"))
            #expect(try await good.call(Echo.self, "after") == "after")
            await good.close()
        }
    }

    @Test func garbageAndWrongProtocolsAreClosedWhileOthersAreServed() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let good = RPCClient(host: "127.0.0.1", port: port)
            for junk: [UInt8] in [Array("GET / HTTP/1.1\r\n\r\n".utf8), [0x16, 0x03, 0x01, 0x00, 0x50], [0, 0, 0, 0]] {
                let raw = try await RawConnection.connect(port: port)
                try await raw.send(junk)
                #expect(await raw.waitForClose())
            }
            // Valid hello, then a frame with a mutated length field that is too short for a header.
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(hello() + [0, 0, 0, 2, 1, 0])
            #expect(await raw.waitForClose())
            #expect(try await good.call(Echo.self, "fine") == "fine")
            await good.close()
        }
    }

    @Test func unsupportedVersionIsRefusedWithVersionZero() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(hello(version: 9))
            #expect(await raw.waitForClose())
            #expect(raw.bytes.count == Hello.length)
            #expect(raw.bytes[4] == Hello.refusedVersion)
        }
    }

    @Test func silentConnectionsAreClosedAfterTheHandshakeTimeout() async throws {
        try await withTestServer({ $0.handshakeTimeout = .milliseconds(100) }) {
            (_: RPCServer, port: Int) async throws -> Void in
            let raw = try await RawConnection.connect(port: port)
            try? await raw.send([0x50, 0x59])  // half a magic, then nothing (the server may already have closed)
            #expect(await raw.waitForClose(timeout: .seconds(3)))
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await withTestServer({ $0.idleTimeout = .milliseconds(150) }) {
            (_: RPCServer, port: Int) async throws -> Void in
            let raw = try await RawConnection.connect(port: port)
            try? await raw.send(hello())
            #expect(await raw.waitForClose(timeout: .seconds(3)))
        }
    }

    @Test func connectionsBeyondTheLimitAreRefused() async throws {
        try await withTestServer({ $0.maxConnections = 2 }) { (server: RPCServer, port: Int) async throws -> Void in
            let a = try await RawConnection.connect(port: port)
            let b = try await RawConnection.connect(port: port)
            try await a.send(hello())
            try await b.send(hello())
            try await Task.sleep(for: .milliseconds(50))
            let c = try await RawConnection.connect(port: port)
            #expect(await c.waitForClose())
            #expect(server.connectionCount == 2)
            _ = (a, b)
        }
    }

    @Test func gracefulShutdownLetsInFlightCallsFinish() async throws {
        let server = RPCServer(
            configuration: .defaults { $0.shutdownGracePeriod = .seconds(5) },
            router: makeRouter(probe: Probe())
        )
        let port = try await server.start().port!
        let client = RPCClient(host: "127.0.0.1", port: port)
        let slow = Task { try await client.call(Sleep.self, 300) }
        while server.callsInFlight == 0 { try await Task.sleep(for: .milliseconds(5)) }
        await server.shutdown()
        #expect(try await slow.value == 300)
        await #expect(throws: TransportError.self) { _ = try await client.call(Echo.self, "late") }
        await client.close()
    }
}

/// Answers the hello and then never says anything again.
final class SilentPeer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if bytes.getBytes(at: bytes.readerIndex, length: 4) == Hello.magic {
            var reply = context.channel.allocator.buffer(capacity: 8)
            Hello(role: .catalog).write(to: &reply)
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
    }
}
