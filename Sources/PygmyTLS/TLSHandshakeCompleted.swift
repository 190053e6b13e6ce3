import PygmyRPC

/// Fired through the pipeline (as a user inbound event) by ``OpenSSLHandler`` when a handshake succeeds,
/// before any application data: what was negotiated, for logs, and who the peer is.
///
/// When the peer presented a verified certificate, an `RPCPeerAuthenticated` event follows immediately.
public struct TLSHandshakeCompleted: Sendable, Hashable {
    /// The negotiated protocol version, for example "TLSv1.3".
    public var protocolVersion: String
    /// The negotiated cipher suite, for example "TLS_AES_256_GCM_SHA384".
    public var cipher: String
    /// The peer's verified certificate, or `nil` if it sent none (only possible for clients of a server
    /// with `requireClientCertificate == false`).
    public var peerCertificate: TLSPeerCertificate?

    public init(protocolVersion: String, cipher: String, peerCertificate: TLSPeerCertificate?) {
        self.protocolVersion = protocolVersion
        self.cipher = cipher
        self.peerCertificate = peerCertificate
    }
}
