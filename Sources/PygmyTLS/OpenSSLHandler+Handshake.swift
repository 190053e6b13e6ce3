import Logging
import NIOCore
import PygmyRPC

extension OpenSSLHandler {
    /// Creates the OpenSSL connection, arms the handshake timer and sends the first flight (clients).
    func startHandshake(context: ChannelHandlerContext) {
        guard state == .idle else { return }
        state = .handshaking
        let connection: TLSConnection
        do {
            connection = try TLSConnection(context: tlsContext, role: role)
        } catch {
            fail(error as? TLSError ?? TLSError(kind: .configuration, message: "\(error)"), context: context)
            return
        }
        self.connection = connection
        let timeout = tlsContext.configuration.handshakeTimeout
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.handshakeTimedOut(after: timeout, context: context)
        }
        advanceHandshake(context: context, connection: connection)
    }

    /// Runs `SSL_do_handshake` on what has arrived so far and sends its output.
    func advanceHandshake(context: ChannelHandlerContext, connection: TLSConnection) {
        switch connection.handshake() {
        case .inProgress:
            writeOutput(context: context, flush: true)
        case .complete:
            handshakeCompleted(context: context, connection: connection)
        case .failed(let error):
            fail(error, context: context)
        }
    }

    /// Announces the result, then sends everything written while the handshake was running.
    private func handshakeCompleted(context: ChannelHandlerContext, connection: TLSConnection) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        state = .active
        let details = TLSHandshakeCompleted(
            protocolVersion: connection.protocolVersion,
            cipher: connection.cipher,
            peerCertificate: connection.verifiedPeerCertificate()
        )
        handshakeDetails = details
        logger.debug(
            "TLS handshake completed",
            metadata: [
                "tls.protocol": "\(details.protocolVersion)",
                "tls.cipher": "\(details.cipher)",
                "tls.peer": "\(details.peerCertificate?.subject ?? "none")",
                "tls.peer.roles": "\(details.peerCertificate?.roles.sorted() ?? [])",
                "remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
            ]
        )
        writeOutput(context: context, flush: false)
        context.fireUserInboundEventTriggered(details)
        if let peer = details.peerCertificate, state == .active {
            context.fireUserInboundEventTriggered(RPCPeerAuthenticated(identity: peer.identity))
        }
        guard state == .active else { return }
        encryptPendingWrites(context: context, connection: connection)
        context.flush()
    }

    private func handshakeTimedOut(after timeout: TimeAmount, context: ChannelHandlerContext) {
        handshakeTimer = nil
        guard state == .handshaking else { return }
        let nanoseconds = timeout.nanoseconds
        let amount =
            nanoseconds % 1_000_000_000 == 0 ? "\(nanoseconds / 1_000_000_000) s" : "\(nanoseconds / 1_000_000) ms"
        fail(TLSError(kind: .handshakeTimeout, message: "TLS handshake timed out after \(amount)"), context: context)
    }
}
