import NIOCore
import PygmyRPC
import PygmyWire
import Synchronization
import Testing

@Suite struct RPCCallTests {
    @Test func echoRoundTrip() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            #expect(try await client.call(Echo.self, "hello, 世界") == "hello, 世界")
            #expect(try await client.call(Echo.self, "") == "")
        }
    }

    @Test func callsUnderTheClientsExecutorRunOnItsConnectionsEventLoop() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            try await withTaskExecutorPreference(client.executor) { () async throws -> Void in
                for i in 0..<20 {
                    #expect(try await client.call(Echo.self, "call \(i)") == "call \(i)")
                    #expect(client.eventLoop.inEventLoop)
                }
            }
            await client.close()
        }
    }

    @Test func manyConcurrentCallsShareOneConnectionAndComeBackOutOfOrder() async throws {
        try await withTestServer { (server: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for i in 0..<200 {
                    // Earlier calls sleep longer, so responses arrive in reverse order.
                    group.addTask { (i, try await client.call(Sleep.self, (200 - i) / 10)) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == 200)
            #expect(results.allSatisfy { $0.value == (200 - $0.key) / 10 })
            #expect(server.connectionCount == 1)
            await client.close()
        }
    }

    @Test func unknownMethodIsUnimplementedAndTheConnectionKeepsWorking() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            await #expect {
                _ = try await client.callRaw(method: "no.such.method", payload: [1, 0], timeout: .seconds(2))
            } throws: { error in
                (error as? RPCError)?.code == .unimplemented && "\(error)".contains("no.such.method")
            }
            #expect(try await client.call(Echo.self, "still here") == "still here")
            await client.close()
        }
    }

    @Test func undecodableRequestIsInvalidArgument() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            await #expect {
                _ = try await client.callRaw(method: Echo.name, payload: [0x05, 0xFF], timeout: .seconds(2))
            } throws: { error in
                (error as? RPCError)?.code == .invalidArgument
            }
            await client.close()
        }
    }

    @Test func handlerErrorsKeepTheirCode() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            await #expect {
                _ = try await client.call(Fail.self, 1001)
            } throws: { error in
                (error as? RPCError) == RPCError(.init(rawValue: 1001), "failed on purpose")
            }
            await #expect {
                _ = try await client.call(Fail.self, 0)
            } throws: { error in
                (error as? RPCError)?.code == .internalError
            }
            await client.close()
        }
    }

    @Test func deadlineExpiresOnBothSides() async throws {
        let probe = Probe()
        try await withTestServer(probe: probe) { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            try await client.connect()
            let start = ContinuousClock.now
            await #expect {
                _ = try await client.call(Sleep.self, 10_000, timeout: .milliseconds(300))
            } throws: { error in
                (error as? RPCError)?.code == .deadlineExceeded
            }
            #expect(ContinuousClock.now - start < .seconds(5))
            // The server cancels the handler at the deadline it was sent.
            for _ in 0..<300 where probe.cancelled.load(ordering: .relaxed) == 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(probe.cancelled.load(ordering: .relaxed) == 1)
            await client.close()
        }
    }

    @Test func cancellingTheCallerCancelsTheServerHandler() async throws {
        let probe = Probe()
        try await withTestServer(probe: probe) { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            try await client.connect()
            let task = Task { try await client.call(Sleep.self, 10_000) }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            await #expect {
                _ = try await task.value
            } throws: { error in
                (error as? RPCError)?.code == .cancelled
            }
            for _ in 0..<300 where probe.cancelled.load(ordering: .relaxed) == 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(probe.cancelled.load(ordering: .relaxed) == 1)
            await client.close()
        }
    }

    @Test func serverPushesReachTheClient() async throws {
        try await withTestServer { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            let (stream, continuation) = AsyncStream.makeStream(of: String.self)
            client.onPush(Note.self) { continuation.yield($0) }
            #expect(try await client.call(Subscribe.self, "x"))
            var iterator = stream.makeAsyncIterator()
            #expect(await iterator.next() == "pushed: x")
            await client.close()
        }
    }

    @Test func serverStopsReadingAtItsConcurrencyLimit() async throws {
        let probe = Probe()
        try await withTestServer({ $0.maxConcurrentCallsPerConnection = 4 }, probe: probe) {
            (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(host: "127.0.0.1", port: port)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await client.call(Sleep.self, 20) } }
                for try await value in group { #expect(value == 20) }
            }
            #expect(probe.maxRunning.load(ordering: .relaxed) <= 4)
            #expect(probe.maxRunning.load(ordering: .relaxed) >= 2)
            await client.close()
        }
    }

    @Test func clientQueuesCallsBeyondItsLimit() async throws {
        let probe = Probe()
        try await withTestServer(probe: probe) { (_: RPCServer, port: Int) async throws -> Void in
            let client = RPCClient(
                host: "127.0.0.1",
                port: port,
                configuration: .defaults { $0.maxConcurrentCalls = 3 }
            )
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<30 { group.addTask { try await client.call(Sleep.self, 10) } }
                for try await value in group { #expect(value == 10) }
            }
            #expect(probe.maxRunning.load(ordering: .relaxed) <= 3)
            await client.close()
        }
    }
}
