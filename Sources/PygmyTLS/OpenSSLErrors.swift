import COpenSSL

/// Turns OpenSSL's error state (the thread-local error queue, `SSL_get_error` and the certificate
/// verification result) into ``TLSError``s.
///
/// OpenSSL's error queue is per thread and every event loop is one thread, so callers clear it with
/// ``clear()`` before each OpenSSL call whose failure they want to explain.
enum OpenSSLErrors {
    /// One entry of the OpenSSL error queue.
    struct Entry {
        var code: UInt
        /// The reason alone, for example "certificate verify failed".
        var reason: String
        /// The full line, for example "error:0A000086:SSL routines::certificate verify failed".
        var line: String

        var isSSLLibrary: Bool { ERR_GET_LIB(code) == ERR_LIB_SSL }
        var reasonCode: Int32 { ERR_GET_REASON(code) }
    }

    /// Empties this thread's error queue.
    static func clear() { ERR_clear_error() }

    /// Removes and returns this thread's queued errors, oldest first.
    static func drain() -> [Entry] {
        var entries: [Entry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? line
            entries.append(Entry(code: code, reason: reason, line: line))
        }
        return entries
    }

    /// A configuration error: `what` failed, followed by OpenSSL's reasons.
    static func configurationError(_ what: String) -> TLSError {
        let entries = drain()
        let reasons = entries.map(\.reason)
        let message = reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
        return TLSError(
            kind: .configuration,
            message: "TLS configuration error: \(message)",
            openSSLErrors: entries.map(\.line)
        )
    }

    /// The error for a failed `SSL_do_handshake` / `SSL_read` / `SSL_write` on `ssl`, where `sslError`
    /// is what `SSL_get_error` said.
    static func connectionError(ssl: OpaquePointer, sslError: Int32, duringHandshake: Bool) -> TLSError {
        let entries = drain()
        let prefix = duringHandshake ? "TLS handshake failed" : "TLS connection failed"
        let kind: TLSError.Kind = duringHandshake ? .handshakeFailed : .protocolError
        guard let first = entries.first else {
            let what =
                switch sslError {
                case SSL_ERROR_SYSCALL: "unexpected end of stream"
                case SSL_ERROR_ZERO_RETURN: "the peer closed the TLS connection (close_notify)"
                default: "OpenSSL error \(sslError)"
                }
            return TLSError(kind: kind, message: "\(prefix): \(what)")
        }
        if first.isSSLLibrary && first.reasonCode == SSL_R_CERTIFICATE_VERIFY_FAILED {
            let result = SSL_get_verify_result(ssl)
            let detail = X509_verify_cert_error_string(result).map { String(cString: $0) } ?? "error \(result)"
            return TLSError(
                kind: .certificateVerificationFailed,
                message: "\(prefix): certificate verify failed: \(detail)",
                openSSLErrors: entries.map(\.line)
            )
        }
        let hint = first.isSSLLibrary ? hints[first.reasonCode].map { " (\($0))" } ?? "" : ""
        return TLSError(kind: kind, message: "\(prefix): \(first.reason)\(hint)", openSSLErrors: entries.map(\.line))
    }

    /// Plain-language explanations for the SSL reasons people meet most.
    private static let hints: [Int32: String] = [
        SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: "the peer requires a client certificate",
        SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: "a client certificate is required",
        SSL_R_TLSV1_ALERT_UNKNOWN_CA: "the peer does not trust the CA that signed our certificate",
        SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED: "the peer says our certificate has expired",
        SSL_R_SSLV3_ALERT_BAD_CERTIFICATE: "the peer rejected our certificate",
        SSL_R_WRONG_VERSION_NUMBER: "is the peer speaking TLS?",
        SSL_R_HTTP_REQUEST: "the peer sent plaintext HTTP",
        SSL_R_PACKET_LENGTH_TOO_LONG: "is the peer speaking TLS?",
        SSL_R_UNSUPPORTED_PROTOCOL: "no TLS version both sides allow",
        SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: "no TLS version both sides allow",
    ]
}
