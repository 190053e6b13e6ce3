import NIOCore

/// Plugs a security layer (TLS) into the connections of `RPCServer` and `RPCClient`.
///
/// `PygmyTLS` provides the OpenSSL implementation; nothing in `PygmyRPC` knows about OpenSSL. Both
/// functions run on the channel's event loop, before the RPC handlers are added, so the handlers they
/// add sit between the socket and the RPC codec. Once the peer is authenticated the security layer fires
/// an `RPCPeerAuthenticated` user inbound event carrying the peer's verified identity.
public protocol RPCTransportSecurity: Sendable {
    /// Adds the server side of the security layer to a freshly accepted connection.
    func configureServerChannel(_ channel: any Channel) throws
    /// Adds the client side to a fresh outbound connection. `serverName` is the host name or IP address
    /// the client dialled, to be checked against the server certificate.
    func configureClientChannel(_ channel: any Channel, serverName: String) throws
}

/// What a security layer proved about the peer.
public struct RPCPeerIdentity: Sendable, Hashable {
    /// The certificate subject, for logs (for example `CN=catalog-1`).
    public var subject: String
    /// Roles granted by the certificate (for example `catalog`, `admin`); see `docs/SECURITY.md`.
    public var roles: Set<String>

    public init(subject: String, roles: Set<String>) {
        self.subject = subject
        self.roles = roles
    }
}

/// Fired through the pipeline (as a user inbound event) when the security layer has verified the peer.
public struct RPCPeerAuthenticated: Sendable, Hashable {
    public var identity: RPCPeerIdentity
    public init(identity: RPCPeerIdentity) { self.identity = identity }
}
