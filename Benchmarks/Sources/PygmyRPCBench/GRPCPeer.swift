import GRPCCore
import GRPCNIOTransportHTTP2

/// gRPC (grpc-swift-2) echo over the HTTP/2 NIO plaintext transport. No code generation: a hand-written
/// `MethodDescriptor`, a service that registers one unary handler, and raw-bytes serializers.
enum GRPCEcho {
    static let method = MethodDescriptor(fullyQualifiedService: "bench.Echo", method: "Echo", type: .unary)

    /// Passes `[UInt8]` through unchanged.
    struct RawSerializer: MessageSerializer {
        func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    }

    /// Copies the received bytes into a `[UInt8]`.
    struct RawDeserializer: MessageDeserializer {
        func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
            bytes.withUnsafeBytes { Array($0) }
        }
    }

    /// The echo service: answers each request with its own message.
    struct Service: RegistrableRPCService {
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            router.registerHandler(
                forMethod: GRPCEcho.method,
                deserializer: RawDeserializer(),
                serializer: RawSerializer()
            ) { request, _ in
                let single = try await ServerRequest(stream: request)
                return StreamingServerResponse(single: ServerResponse(message: single.message))
            }
        }
    }

    static func serve(port: Int, bound: @Sendable (Int) -> Void) async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: port),
            transportSecurity: .plaintext
        )
        let server = GRPCServer(transport: transport, services: [Service()])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            let address = try await transport.listeningAddress
            bound(address.ipv4?.port ?? port)
            await sleepForever()
            server.beginGracefulShutdown()
        }
    }

    static func withClient<R: Sendable>(port: Int, _ body: (any EchoClient) async throws -> R) async throws -> R {
        let target: ResolvableTargets.IPv4 = .ipv4(address: "127.0.0.1", port: port)
        let transport = try HTTP2ClientTransport.Posix(
            target: target,
            transportSecurity: .plaintext
        )
        return try await withGRPCClient(transport: transport) { client in
            try await body(Client(client: client))
        }
    }

    struct Client: EchoClient {
        let client: GRPCClient<HTTP2ClientTransport.Posix>
        let payload = [UInt8](repeating: 0x2A, count: echoPayloadSize)

        func echo() async throws {
            let count = try await client.unary(
                request: ClientRequest(message: payload),
                descriptor: GRPCEcho.method,
                serializer: RawSerializer(),
                deserializer: RawDeserializer(),
                options: .defaults
            ) { response in try response.message.count }
            guard count == echoPayloadSize else { throw BadEcho(bytes: count) }
        }
    }
}
