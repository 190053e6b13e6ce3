/// A TLS failure, phrased for humans: for example
/// "TLS handshake failed: certificate verify failed: unable to get local issuer certificate".
///
/// Built from `SSL_get_error`, the OpenSSL error queue (`ERR_get_error`) and, for certificate problems,
/// `SSL_get_verify_result` / `X509_verify_cert_error_string`. `OpenSSLHandler` fires it through the
/// pipeline with `fireErrorCaught` and then closes the connection.
public struct TLSError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What went wrong, coarsely, for code that reacts to TLS failures.
    public enum Kind: String, Sendable, Hashable {
        /// The certificate, key or CA files could not be loaded, or OpenSSL could not be set up.
        case configuration
        /// The handshake failed (protocol mismatch, alert from the peer, missing client certificate, ...).
        case handshakeFailed
        /// The peer's certificate did not verify (unknown issuer, expired, wrong host name, ...).
        case certificateVerificationFailed
        /// The handshake did not finish within `TLSConfiguration.handshakeTimeout`.
        case handshakeTimeout
        /// The peer closed the TCP connection before the handshake finished.
        case closedDuringHandshake
        /// The peer closed the TCP connection without sending `close_notify` first.
        case uncleanShutdown
        /// A TLS failure after the handshake (bad record, alert from the peer, ...).
        case protocolError
    }

    /// What went wrong, coarsely.
    public var kind: Kind
    /// The readable explanation (this is the `description`).
    public var message: String
    /// The raw OpenSSL error queue, oldest first, for logs (for example
    /// `error:0A000086:SSL routines::certificate verify failed`).
    public var openSSLErrors: [String]

    public init(kind: Kind, message: String, openSSLErrors: [String] = []) {
        self.kind = kind
        self.message = message
        self.openSSLErrors = openSSLErrors
    }

    public var description: String { message }
}
