import NIOCore
import NIOPosix
import PygmyRPC
import Testing

/// Only a refused connection says a peer's process is gone; the client must tell it apart from a
/// connect that could not finish (the node cores leave a replica out of buys only on a refusal).
@Suite struct RefusedConnectTests {
    /// A port that was just bound and closed again: nothing listens there.
    func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    @Test("a connect to a port where nothing listens is a refusal, and so is the backoff after it")
    func aRefusedConnectIsMarked() async throws {
        let client = RPCClient(host: "127.0.0.1", port: try await closedPort())
        defer { Task { await client.close() } }
        do {
            _ = try await client.call(Echo.self, "hi", timeout: .seconds(2))
            Issue.record("the call succeeded")
        } catch let error as TransportError {
            #expect(error.kind == .connectFailed)
            #expect(error.refused, "\(error)")
        }
        do {
            _ = try await client.call(Echo.self, "hi", timeout: .seconds(2))
            Issue.record("the call succeeded")
        } catch let error as TransportError {
            #expect(error.kind == .backingOff || error.kind == .connectFailed)
            #expect(error.refused, "\(error)")
        }
    }

    @Test("a connect that fails otherwise is not a refusal")
    func otherConnectFailuresAreNotRefusals() {
        #expect(!TransportError(.connectFailed, "timed out").refused)
    }
}
