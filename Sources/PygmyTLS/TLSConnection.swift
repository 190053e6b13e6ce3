import COpenSSL
import NIOCore

/// One OpenSSL connection (`SSL`) running over two memory BIOs: ciphertext from the network is fed
/// into one, ciphertext for the network is drained from the other. No sockets are involved, so the
/// object is driven entirely by ``OpenSSLHandler`` on the channel's event loop.
final class TLSConnection {
    /// Outcome of advancing the handshake.
    enum HandshakeResult {
        case complete, inProgress
        case failed(TLSError)
    }
    /// Outcome of reading plaintext.
    enum ReadResult {
        case readSome, wantRead, closeNotify
        case failed(TLSError)
    }
    /// Outcome of writing plaintext.
    enum WriteResult {
        case written, wantMore
        case failed(TLSError)
    }

    /// Keeps the shared configuration (and its `SSL_CTX`) alive for as long as this connection.
    private let context: TLSContext
    private let ssl: OpaquePointer
    /// Ciphertext received from the peer, read by OpenSSL.
    private let networkIn: OpaquePointer
    /// Ciphertext produced by OpenSSL, to be sent to the peer.
    private let networkOut: OpaquePointer
    /// Whether OpenSSL reported a fatal error; after one, no further calls but `SSL_free` are allowed.
    private(set) var hasFailed = false

    /// Creates the `SSL` for `role`, with peer verification and, for clients, the server name check.
    init(context: TLSContext, role: TLSRole) throws {
        OpenSSLErrors.clear()
        guard let ssl = SSL_new(context.sslContext) else {
            throw OpenSSLErrors.configurationError("cannot create an SSL connection")
        }
        guard let networkIn = BIO_new(BIO_s_mem()), let networkOut = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw OpenSSLErrors.configurationError("cannot create memory BIOs")
        }
        pygmy_BIO_set_mem_eof_return(networkIn, -1)
        pygmy_BIO_set_mem_eof_return(networkOut, -1)
        SSL_set_bio(ssl, networkIn, networkOut)  // The SSL now owns both BIOs.
        self.context = context
        self.ssl = ssl
        self.networkIn = networkIn
        self.networkOut = networkOut
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
            SSL_set_verify(ssl, Self.serverVerifyMode(context.configuration), nil)
        case .client(let serverName):
            SSL_set_connect_state(ssl)
            SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
            if let serverName { try expect(serverName: serverName) }
        }
    }

    deinit { SSL_free(ssl) }

    private static func serverVerifyMode(_ configuration: TLSConfiguration) -> Int32 {
        if configuration.requireClientCertificate { return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
        return SSL_VERIFY_PEER
    }

    /// Makes verification require `serverName` in the server certificate's SANs (IP address or DNS name).
    private func expect(serverName: String) throws {
        let name =
            serverName.hasPrefix("[") && serverName.hasSuffix("]")
            ? String(serverName.dropFirst().dropLast()) : serverName
        let parameters = SSL_get0_param(ssl)
        if let address = a2i_IPADDRESS(name) {
            ASN1_OCTET_STRING_free(address)
            guard X509_VERIFY_PARAM_set1_ip_asc(parameters, name) == 1 else {
                throw OpenSSLErrors.configurationError("cannot check the IP address '\(name)'")
            }
        } else {
            OpenSSLErrors.clear()
            guard X509_VERIFY_PARAM_set1_host(parameters, name, 0) == 1,
                pygmy_SSL_set_tlsext_host_name(ssl, name) == 1
            else {
                throw OpenSSLErrors.configurationError("cannot check the host name '\(name)'")
            }
        }
    }

    // MARK: Network side

    /// Hands ciphertext received from the peer to OpenSSL.
    func feed(_ buffer: ByteBuffer) -> TLSError? {
        let written = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
            return BIO_write(networkIn, base, Int32(bytes.count))
        }
        guard written == Int32(buffer.readableBytes) else {
            return TLSError(
                kind: .protocolError,
                message: "TLS connection failed: out of memory buffering received data"
            )
        }
        return nil
    }

    /// Takes the ciphertext OpenSSL has produced so far, or `nil` if there is none.
    func drainOutput(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = Int(BIO_ctrl_pending(networkOut))
        guard pending > 0 else { return nil }
        var buffer = allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
            Int(max(0, BIO_read(networkOut, bytes.baseAddress, Int32(pending))))
        }
        return buffer
    }

    // MARK: TLS operations

    /// Advances the handshake as far as the ciphertext fed so far allows.
    func handshake() -> HandshakeResult {
        OpenSSLErrors.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .complete }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return .inProgress }
        hasFailed = true
        return .failed(OpenSSLErrors.connectionError(ssl: ssl, sslError: error, duringHandshake: true))
    }

    /// Decrypts as much plaintext as fits into `buffer`'s writable space (growing it by up to 16 KiB).
    func read(into buffer: inout ByteBuffer) -> ReadResult {
        OpenSSLErrors.clear()
        var count = 0
        var result: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { bytes in
            result = SSL_read_ex(ssl, bytes.baseAddress, bytes.count, &count)
            return result == 1 ? count : 0
        }
        if result == 1 { return .readSome }
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantRead
        case SSL_ERROR_ZERO_RETURN: return .closeNotify
        default:
            hasFailed = true
            return .failed(OpenSSLErrors.connectionError(ssl: ssl, sslError: error, duringHandshake: false))
        }
    }

    /// Encrypts all of `buffer` (the output is in the outgoing BIO, see ``drainOutput(allocator:)``).
    func write(_ buffer: ByteBuffer) -> WriteResult {
        OpenSSLErrors.clear()
        var count = 0
        let result = buffer.withUnsafeReadableBytes { bytes in
            SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count)
        }
        if result == 1 { return .written }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return .wantMore }
        hasFailed = true
        return .failed(OpenSSLErrors.connectionError(ssl: ssl, sslError: error, duringHandshake: false))
    }

    /// Queues our `close_notify` alert (unless the connection already failed, when OpenSSL forbids it).
    func shutdown() {
        guard !hasFailed else { return }
        OpenSSLErrors.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrors.clear()
    }

    // MARK: Negotiated parameters

    /// The negotiated protocol, for example "TLSv1.3".
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite, for example "TLS_AES_256_GCM_SHA384".
    var cipher: String {
        guard let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return "none" }
        return String(cString: name)
    }

    /// The peer's certificate, if it sent one and it verified.
    func verifiedPeerCertificate() -> TLSPeerCertificate? {
        guard SSL_get_verify_result(ssl) == X509_V_OK, let certificate = SSL_get1_peer_certificate(ssl) else {
            return nil
        }
        defer { X509_free(certificate) }
        return TLSPeerCertificate(certificate)
    }
}
