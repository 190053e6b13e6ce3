import PygmyTLS
import Testing

/// Loading certificates and keys, with readable errors for mistakes.
@Suite("Configuration")
struct ConfigurationTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates.shared() }

    @Test("a node configuration from make-certs.sh output loads")
    func loadsNodeConfiguration() throws {
        let context = try TLSContext(configuration: .node(named: "catalog-1", in: certificates.directory))
        #expect(context.configuration.requireClientCertificate)
        #expect(context.configuration.handshakeTimeout == .seconds(10))
    }

    @Test("a missing file is named in the error")
    func missingFile() throws {
        var configuration = certificates.configuration("server")
        configuration.certificateChainFile = certificates.path("nope.crt")
        let error = try #require(throws: TLSError.self) { try TLSContext(configuration: configuration) }
        #expect(error.kind == .configuration)
        #expect(
            error.message
                == "TLS configuration error: cannot read the certificate chain file '\(certificates.path("nope.crt"))'"
        )
    }

    @Test("a key that does not match the certificate is rejected")
    func mismatchedKey() throws {
        var configuration = certificates.configuration("server")
        configuration.privateKeyFile = certificates.path("client.key")
        let error = try #require(throws: TLSError.self) { try TLSContext(configuration: configuration) }
        #expect(error.kind == .configuration)
        #expect(
            error.message
                == "TLS configuration error: cannot load the private key '\(certificates.path("client.key"))': key values mismatch"
        )
    }

    @Test("a certificate without a key is rejected")
    func certificateWithoutKey() throws {
        var configuration = certificates.configuration("server")
        configuration.privateKeyFile = nil
        #expect(throws: TLSError.self) { try TLSContext(configuration: configuration) }
    }

    @Test("a file that is not PEM gives OpenSSL's reason")
    func notPEM() throws {
        var configuration = certificates.configuration("server")
        configuration.trustedCAFile = "/etc/hostname"
        let error = try #require(throws: TLSError.self) { try TLSContext(configuration: configuration) }
        #expect(
            error.message.hasPrefix("TLS configuration error: cannot load the trusted CA bundle '/etc/hostname'"),
            "\(error)"
        )
    }
}
