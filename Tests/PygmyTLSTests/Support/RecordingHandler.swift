import NIOCore
import PygmyRPC
import PygmyTLS

/// Sits after the TLS handler: records plaintext, errors and events, and optionally echoes the plaintext.
/// As an echo server it also closes the connection on errors, as applications typically do.
final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let recorder: EventRecorder
    private let echo: Bool

    init(recorder: EventRecorder, echo: Bool) {
        self.recorder = recorder
        self.echo = echo
    }

    func channelActive(context: ChannelHandlerContext) {
        recorder.update { $0.activeCount += 1 }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        recorder.update { $0.inactiveCount += 1 }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        recorder.update { $0.received.writeImmutableBuffer(buffer) }
        if echo { context.write(Self.wrapOutboundOut(buffer), promise: nil) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if echo { context.flush() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        recorder.update {
            if let error = error as? TLSError { $0.tlsErrors.append(error) } else { $0.otherErrors.append("\(error)") }
        }
        if echo { context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { recorder.update { $0.handshakes.append(event) } }
        if let event = event as? RPCPeerAuthenticated { recorder.update { $0.identities.append(event.identity) } }
        context.fireUserInboundEventTriggered(event)
    }
}
