import COpenSSL

/// A loaded ``TLSConfiguration``: an OpenSSL `SSL_CTX` holding our certificate chain, private key and
/// trusted CAs, plus the protocol limits and options every connection uses.
///
/// Load it once per process (or per configuration) and share it: after `init` the `SSL_CTX` is only
/// read, and OpenSSL's `SSL_new` is safe to call concurrently on a shared, unmodified context.
public final class TLSContext: @unchecked Sendable {
    /// The configuration this context was loaded from.
    public let configuration: TLSConfiguration
    /// The OpenSSL context. Never modified after `init`.
    let sslContext: OpaquePointer

    /// Loads the files named in `configuration`.
    /// - Throws: ``TLSError`` of kind `configuration` naming the file or setting that failed.
    public init(configuration: TLSConfiguration) throws {
        OpenSSLErrors.clear()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw OpenSSLErrors.configurationError("cannot create an SSL_CTX")
        }
        self.sslContext = context
        self.configuration = configuration
        try configure()
    }

    deinit { SSL_CTX_free(sslContext) }

    private func configure() throws {
        let minimum = configuration.minimumVersion == .tls13 ? TLS1_3_VERSION : TLS1_2_VERSION
        guard pygmy_SSL_CTX_set_min_proto_version(sslContext, minimum) == 1 else {
            throw OpenSSLErrors.configurationError("cannot set the minimum protocol version")
        }
        pygmy_SSL_CTX_set_secure_options(sslContext)
        pygmy_SSL_CTX_set_default_mode(sslContext)
        X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(sslContext), UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        try loadIdentity()
        try loadTrust()
    }

    /// Our certificate chain and private key.
    private func loadIdentity() throws {
        switch (configuration.certificateChainFile, configuration.privateKeyFile) {
        case (nil, nil):
            return
        case (.some, nil), (nil, .some):
            throw TLSError(
                kind: .configuration,
                message: "TLS configuration error: a certificate chain file needs a private key file and vice versa"
            )
        case let (chain?, key?):
            try Self.checkReadable(chain, what: "certificate chain")
            try Self.checkReadable(key, what: "private key")
            guard SSL_CTX_use_certificate_chain_file(sslContext, chain) == 1 else {
                throw OpenSSLErrors.configurationError("cannot load the certificate chain '\(chain)'")
            }
            guard SSL_CTX_use_PrivateKey_file(sslContext, key, SSL_FILETYPE_PEM) == 1 else {
                throw OpenSSLErrors.configurationError("cannot load the private key '\(key)'")
            }
            guard SSL_CTX_check_private_key(sslContext) == 1 else {
                throw OpenSSLErrors.configurationError(
                    "the private key '\(key)' does not match the certificate '\(chain)'"
                )
            }
        }
    }

    /// The CAs we verify peers against; servers also advertise them as acceptable client-certificate issuers.
    private func loadTrust() throws {
        guard let bundle = configuration.trustedCAFile else {
            guard SSL_CTX_set_default_verify_paths(sslContext) == 1 else {
                throw OpenSSLErrors.configurationError("cannot load the system's trusted certificates")
            }
            return
        }
        try Self.checkReadable(bundle, what: "trusted CA bundle")
        guard SSL_CTX_load_verify_locations(sslContext, bundle, nil) == 1 else {
            throw OpenSSLErrors.configurationError("cannot load the trusted CA bundle '\(bundle)'")
        }
        if let names = SSL_load_client_CA_file(bundle) {
            SSL_CTX_set_client_CA_list(sslContext, names)
        }
        OpenSSLErrors.clear()
    }

    /// Fails with a readable message when `path` cannot be opened (OpenSSL's own message is cryptic).
    private static func checkReadable(_ path: String, what: String) throws {
        OpenSSLErrors.clear()
        guard let bio = BIO_new_file(path, "r") else {
            OpenSSLErrors.clear()
            throw TLSError(
                kind: .configuration,
                message: "TLS configuration error: cannot read the \(what) file '\(path)'"
            )
        }
        BIO_free(bio)
    }
}
