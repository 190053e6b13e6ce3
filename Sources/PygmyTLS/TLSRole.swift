/// Which end of the handshake a connection plays.
public enum TLSRole: Sendable, Hashable {
    /// Accepts handshakes; verifies client certificates as `TLSConfiguration.requireClientCertificate` says.
    case server
    /// Starts handshakes and always verifies the server certificate against the trusted CAs.
    /// `serverName` (a host name or an IP address) must match one of the certificate's subject
    /// alternative names; host names are also sent as SNI. `nil` skips the name check — only for tests
    /// and tools, never for node-to-node traffic.
    case client(serverName: String?)
}
