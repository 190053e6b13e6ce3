import NIOCore
import NIOPosix
import PygmyTLS
import Synchronization

/// An echo server on 127.0.0.1 (TLS via `OpenSSLTransportSecurity`, or plaintext), recording what all
/// its connections observe.
struct TestServer: Sendable {
    let channel: any Channel
    let recorder: EventRecorder
    let connections: ConnectionList
    var port: Int { channel.localAddress?.port ?? 0 }

    /// Accepted connections, so tests can cut them.
    final class ConnectionList: Sendable {
        let channels = Mutex<[any Channel]>([])
    }

    /// With `hangUpOnData` the server closes a connection as soon as anything arrives, as a plaintext
    /// Pygmy server does when the first bytes are not its hello (for example a TLS ClientHello).
    static func start(tls: TLSContext?, hangUpOnData: Bool = false) async throws -> TestServer {
        let recorder = EventRecorder()
        let connections = ConnectionList()
        let security = tls.map { OpenSSLTransportSecurity(context: $0) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.channels.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try security?.configureServerChannel(channel)
                    try channel.pipeline.syncOperations.addHandler(AbortHandler(), position: .first)
                    if hangUpOnData { try channel.pipeline.syncOperations.addHandler(HangUpHandler()) }
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(recorder: recorder, echo: true))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestServer(channel: channel, recorder: recorder, connections: connections)
    }

    /// Closes every accepted connection's socket without TLS's `close_notify`.
    func abortConnections() {
        for channel in connections.channels.withLock({ $0 }) {
            channel.triggerUserOutboundEvent(AbortConnection(), promise: nil)
        }
    }

    /// Closes the listening socket and every accepted connection.
    func stop() async throws {
        try await channel.close()
        for channel in connections.channels.withLock({ $0 }) { try? await channel.close() }
    }
}

extension TestServer {
    /// Proves the server still works: a fresh, correctly configured client completes an echo.
    func expectServesGoodClient(_ certificates: TestCertificates) async throws {
        let client = try await TestClient.connect(port: port, tls: try certificates.context("client"))
        try await client.roundTrip("still serving")
        await client.close()
    }
}

/// Closes the connection when the first bytes arrive.
final class HangUpHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.close(promise: nil)
    }
}
