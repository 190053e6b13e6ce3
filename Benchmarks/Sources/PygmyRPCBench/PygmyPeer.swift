import Foundation
import Logging
import PygmyRPC
import PygmyTLS

/// The echo method: `Data` is encoded as its raw bytes by the binary coder (a `[UInt8]` would be one
/// slot per element), so 32 bytes of payload cost 33 bytes on the wire.
enum BenchEcho: RPCMethod {
    typealias Request = Data
    typealias Response = Data
    static let name = "bench.echo"
}

/// Pygmy RPC server and client with their default configurations.
enum PygmyEcho {
    /// Quiet: the server's per-connection info lines would clutter the benchmark output.
    static let logger: Logger = {
        var logger = Logger(label: "pygmy.bench")
        logger.logLevel = .warning
        return logger
    }()

    static func serve(port: Int, tls: Bool, bound: (Int) -> Void) async throws {
        var router = RPCRouter()
        router.register(BenchEcho.self) { request, _ in request }
        let security: (any RPCTransportSecurity)? = tls ? try BenchCertificates.security(for: "server") : nil
        let server = RPCServer(
            configuration: .defaults {
                $0.host = "127.0.0.1"
                $0.port = port
                $0.security = security
            },
            router: router,
            logger: logger
        )
        let address = try await server.start()
        bound(address.port ?? port)
        await sleepForever()
        await server.shutdown()
    }

    static func withClient<R: Sendable>(
        port: Int,
        tls: Bool,
        _ body: (any EchoClient) async throws -> R
    )
        async throws -> R
    {
        let client = try makeClient(port: port, tls: tls)
        try await client.connect()
        do {
            let result = try await body(Client(client: client))
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    static func makeClient(port: Int, tls: Bool) throws -> RPCClient {
        var configuration = RPCClient.Configuration()
        if tls { configuration.security = try BenchCertificates.security(for: "client") }
        return RPCClient(host: "127.0.0.1", port: port, configuration: configuration, logger: logger)
    }

    /// Connections per second, each a full connect + hello (+ TLS handshake) + close, one at a time.
    static func connectionsPerSecond(port: Int, tls: Bool, seconds: Double) async throws -> Double {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let start = ContinuousClock.now
        var count = 0
        while ContinuousClock.now < deadline {
            let client = try makeClient(port: port, tls: tls)
            try await client.connect()
            await client.close()
            count += 1
        }
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    struct Client: EchoClient {
        let client: RPCClient
        let payload = Data(repeating: 0x2A, count: echoPayloadSize)

        func echo() async throws {
            let reply = try await client.call(BenchEcho.self, payload)
            guard reply.count == echoPayloadSize else { throw BadEcho(bytes: reply.count) }
        }
    }
}
