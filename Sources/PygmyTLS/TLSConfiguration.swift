import NIOCore

/// How a node or client sets up TLS: its own certificate, whom it trusts, and the protocol limits.
///
/// Paths are PEM files. The same configuration serves both directions of a node (it accepts
/// connections as a server and dials other nodes as a client); `requireClientCertificate` only
/// matters when accepting. Load it once into a ``TLSContext`` and share that across connections.
public struct TLSConfiguration: Sendable, Hashable {
    /// The oldest TLS version accepted. TLS 1.3 is always preferred when both sides support it.
    public enum ProtocolVersion: Sendable, Hashable, CustomStringConvertible {
        case tls12
        case tls13

        public var description: String {
            switch self {
            case .tls12: "TLSv1.2"
            case .tls13: "TLSv1.3"
            }
        }
    }

    /// Our certificate, followed by any intermediate CA certificates (PEM). Required for servers.
    public var certificateChainFile: String?
    /// The private key matching the first certificate of `certificateChainFile` (PEM).
    public var privateKeyFile: String?
    /// The CA certificates used to verify the peer (PEM bundle). `nil` uses the system's default store.
    public var trustedCAFile: String?
    /// The oldest protocol version allowed (default TLS 1.2).
    public var minimumVersion: ProtocolVersion
    /// How long a handshake may take before the connection is closed with a `handshakeTimeout` error.
    public var handshakeTimeout: TimeAmount
    /// How long a closing connection waits for its `close_notify` alert to be written before it closes anyway.
    public var shutdownTimeout: TimeAmount
    /// Servers only: reject clients that present no certificate (`SSL_VERIFY_FAIL_IF_NO_PEER_CERT`).
    /// When `false`, a certificate is still requested and, if presented, must verify.
    public var requireClientCertificate: Bool

    public init(
        certificateChainFile: String? = nil,
        privateKeyFile: String? = nil,
        trustedCAFile: String? = nil,
        minimumVersion: ProtocolVersion = .tls12,
        handshakeTimeout: TimeAmount = .seconds(10),
        shutdownTimeout: TimeAmount = .seconds(5),
        requireClientCertificate: Bool = true
    ) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.trustedCAFile = trustedCAFile
        self.minimumVersion = minimumVersion
        self.handshakeTimeout = handshakeTimeout
        self.shutdownTimeout = shutdownTimeout
        self.requireClientCertificate = requireClientCertificate
    }

    /// The configuration for a certificate made by `certs/make-certs.sh`: `<directory>/<name>.crt`,
    /// `<directory>/<name>.key`, trusting `<directory>/ca.crt`.
    public static func node(named name: String, in directory: String) -> TLSConfiguration {
        TLSConfiguration(
            certificateChainFile: "\(directory)/\(name).crt",
            privateKeyFile: "\(directory)/\(name).key",
            trustedCAFile: "\(directory)/ca.crt"
        )
    }
}
