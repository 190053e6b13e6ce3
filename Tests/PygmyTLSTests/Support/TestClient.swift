import NIOCore
import NIOPosix
import PygmyTLS

/// A client connection to 127.0.0.1 (TLS or plaintext), recording what it observes.
struct TestClient: Sendable {
    let channel: any Channel
    let recorder: EventRecorder

    /// Connects; with `tls`, the handshake starts at once and checks the server against `serverName`.
    /// `onActive` runs in `channelActive`, right after the TLS handler has sent its ClientHello — the
    /// moment the RPC layer sends its hello.
    static func connect(
        port: Int,
        tls: TLSContext?,
        serverName: String? = "127.0.0.1",
        onActive: @escaping @Sendable (any Channel) throws -> Void = { _ in }
    ) async throws -> TestClient {
        let recorder = EventRecorder()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(OpenSSLHandler(context: tls, role: .client(serverName: serverName)))
                        try sync.addHandler(AbortHandler(), position: .first)
                    }
                    try sync.addHandler(ActiveHook(onActive))
                    try sync.addHandler(RecordingHandler(recorder: recorder, echo: false))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return TestClient(channel: channel, recorder: recorder)
    }

    func send(_ bytes: some Sequence<UInt8>) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: Array(bytes)))
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Waits for the handshake (and the server's identity) to complete.
    @discardableResult
    func handshake() async throws -> Observations {
        try await recorder.wait("client handshake") { !$0.handshakes.isEmpty || !$0.tlsErrors.isEmpty }
    }

    /// Sends `text` and waits until it comes back.
    func roundTrip(_ text: String) async throws {
        try await send(text)
        try await recorder.wait("echo of \(text.count) bytes") { $0.receivedString.contains(text) }
    }

    /// Closes the connection the TLS way (`close_notify`).
    func close() async {
        try? await channel.close()
    }
}

/// Calls a closure when the channel becomes active.
final class ActiveHook: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let body: @Sendable (any Channel) throws -> Void

    init(_ body: @escaping @Sendable (any Channel) throws -> Void) { self.body = body }

    func channelActive(context: ChannelHandlerContext) {
        do { try body(context.channel) } catch { context.fireErrorCaught(error) }
        context.fireChannelActive()
    }
}
