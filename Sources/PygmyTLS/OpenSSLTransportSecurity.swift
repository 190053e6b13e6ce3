import Logging
import NIOCore
import PygmyRPC

/// TLS for `RPCServer` and `RPCClient`: puts an ``OpenSSLHandler`` first in every connection's pipeline.
///
/// ```swift
/// let security = try OpenSSLTransportSecurity(configuration: .node(named: "catalog-1", in: "certs/out"))
/// ```
/// The RPC layer calls the `configure...` functions on the channel's event loop before adding its own
/// handlers, and learns the peer's roles from the `RPCPeerAuthenticated` event.
public struct OpenSSLTransportSecurity: RPCTransportSecurity {
    /// The loaded certificates and settings, shared by every connection.
    public let context: TLSContext
    /// Receives handshake results (version, cipher, peer) and failures at `debug` level.
    public var logger: Logger

    public init(context: TLSContext, logger: Logger = OpenSSLHandler.silentLogger) {
        self.context = context
        self.logger = logger
    }

    /// Loads `configuration` (see ``TLSContext/init(configuration:)``).
    public init(configuration: TLSConfiguration, logger: Logger = OpenSSLHandler.silentLogger) throws {
        self.init(context: try TLSContext(configuration: configuration), logger: logger)
    }

    public func configureServerChannel(_ channel: any Channel) throws {
        let handler = OpenSSLHandler(context: context, role: .server, logger: logger)
        try channel.pipeline.syncOperations.addHandler(handler, position: .first)
    }

    public func configureClientChannel(_ channel: any Channel, serverName: String) throws {
        let handler = OpenSSLHandler(context: context, role: .client(serverName: serverName), logger: logger)
        try channel.pipeline.syncOperations.addHandler(handler, position: .first)
    }
}
