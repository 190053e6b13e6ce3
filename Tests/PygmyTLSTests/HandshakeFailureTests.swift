import NIOCore
import PygmyTLS
import Testing

/// Bad peers get clear errors, and the server keeps serving good clients afterwards.
@Suite("Handshake failures")
struct HandshakeFailureTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates.shared() }

    /// Connects a TLS client with `clientCertificate` to a TLS server presenting `serverCertificate`,
    /// waits until both sides are closed, and checks the server still serves a good client.
    private func attempt(
        client clientCertificate: String?,
        server serverCertificate: String = "server",
        serverName: String = "127.0.0.1"
    ) async throws -> (client: Observations, server: Observations) {
        let server = try await TestServer.start(tls: try certificates.context(serverCertificate))
        let client = try await TestClient.connect(
            port: server.port,
            tls: try certificates.context(clientCertificate),
            serverName: serverName
        )
        // The write fails if the client already gave up; either way nothing may reach the server's application.
        try? await client.send("must never arrive\n")
        let clientSeen = try await client.recorder.wait("client to be closed") { $0.inactiveCount == 1 }
        let serverSeen = try await server.recorder.wait("server connection to be closed") { $0.inactiveCount == 1 }
        #expect(serverSeen.received.readableBytes == 0, "no application data may pass a failed handshake")
        if serverCertificate == "server" { try await server.expectServesGoodClient(certificates) }
        try await server.stop()
        return (clientSeen, serverSeen)
    }

    @Test("a client without a certificate is rejected")
    func noClientCertificate() async throws {
        let (client, server) = try await attempt(client: nil)
        #expect(
            server.tlsErrors.first?.message
                == "TLS handshake failed: peer did not return a certificate (a client certificate is required)"
        )
        #expect(server.identities.isEmpty)
        #expect(client.tlsErrors.first?.message.contains("certificate required") == true, "\(client)")
    }

    @Test("a client certificate from another CA is rejected")
    func untrustedClientCertificate() async throws {
        let (client, server) = try await attempt(client: "rogue")
        #expect(server.tlsErrors.first?.kind == .certificateVerificationFailed)
        #expect(
            server.tlsErrors.first?.message
                == "TLS handshake failed: certificate verify failed: unable to get local issuer certificate"
        )
        #expect(client.tlsErrors.first?.message.contains("unknown ca") == true, "\(client)")
    }

    @Test("an expired client certificate is rejected")
    func expiredClientCertificate() async throws {
        let (client, server) = try await attempt(client: "expired")
        #expect(
            server.tlsErrors.first?.message
                == "TLS handshake failed: certificate verify failed: certificate has expired"
        )
        #expect(client.tlsErrors.first?.message.contains("certificate expired") == true, "\(client)")
    }

    @Test("a server certificate from another CA is rejected by the client")
    func untrustedServerCertificate() async throws {
        let (client, server) = try await attempt(client: "client", server: "rogue-server")
        #expect(client.tlsErrors.first?.kind == .certificateVerificationFailed)
        #expect(
            client.tlsErrors.first?.message
                == "TLS handshake failed: certificate verify failed: unable to get local issuer certificate"
        )
        #expect(client.handshakes.isEmpty && client.identities.isEmpty)
        #expect(!server.tlsErrors.isEmpty)
    }

    @Test("an expired server certificate is rejected by the client")
    func expiredServerCertificate() async throws {
        let (client, _) = try await attempt(client: "client", server: "expired-server")
        #expect(
            client.tlsErrors.first?.message
                == "TLS handshake failed: certificate verify failed: certificate has expired"
        )
    }

    @Test("a server certificate without the dialled IP address is rejected")
    func wrongIPAddress() async throws {
        let (client, _) = try await attempt(client: "client", server: "wronghost")
        #expect(
            client.tlsErrors.first?.message == "TLS handshake failed: certificate verify failed: IP address mismatch"
        )
    }

    @Test("a server certificate without the expected host name is rejected")
    func wrongHostName() async throws {
        let (client, _) = try await attempt(client: "client", serverName: "catalog.example")
        #expect(client.tlsErrors.first?.message == "TLS handshake failed: certificate verify failed: hostname mismatch")
    }

    @Test("a TLS client on a plaintext port fails its handshake")
    func tlsClientOnPlaintextPort() async throws {
        let server = try await TestServer.start(tls: nil)
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context("client"))
        let seen = try await client.recorder.wait("client to fail") { $0.inactiveCount == 1 }
        // The echo server sends our own ClientHello back.
        #expect(seen.tlsErrors.map(\.message) == ["TLS handshake failed: unexpected message"])
        #expect(seen.tlsErrors.first?.kind == .handshakeFailed)
        #expect(seen.handshakes.isEmpty)
        try await server.stop()
    }

    @Test("a TLS client whose plaintext server hangs up reports it")
    func tlsClientOnHangingUpPlaintextPort() async throws {
        let server = try await TestServer.start(tls: nil, hangUpOnData: true)
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context("client"))
        let seen = try await client.recorder.wait("client to fail") { $0.inactiveCount == 1 }
        #expect(seen.tlsErrors.map(\.kind) == [.closedDuringHandshake])
        #expect(
            seen.tlsErrors.first?.message == "TLS handshake failed: the peer closed the connection during the handshake"
        )
        try await server.stop()
    }

    @Test("a plaintext client on a TLS port is rejected")
    func plaintextClientOnTLSPort() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try await TestClient.connect(port: server.port, tls: nil)
        try await client.send("HELLO PLAINTEXT\n")
        try await client.recorder.wait("plaintext client to be closed") { $0.inactiveCount == 1 }
        let seen = try await server.recorder.wait("server error") { $0.inactiveCount == 1 }
        #expect(
            seen.tlsErrors.first?.message == "TLS handshake failed: wrong version number (is the peer speaking TLS?)"
        )
        #expect(seen.received.readableBytes == 0)
        try await server.expectServesGoodClient(certificates)
        try await server.stop()
    }

    @Test("a silent client is dropped when the handshake times out")
    func handshakeTimeout() async throws {
        let context = try certificates.context("server", handshakeTimeout: .milliseconds(300))
        let server = try await TestServer.start(tls: context)
        let client = try await TestClient.connect(port: server.port, tls: nil)
        try await client.recorder.wait("silent client to be closed") { $0.inactiveCount == 1 }
        let seen = try await server.recorder.wait("timeout error") { $0.inactiveCount == 1 }
        #expect(seen.tlsErrors.map(\.kind) == [.handshakeTimeout])
        #expect(seen.tlsErrors.first?.message == "TLS handshake timed out after 300 ms")
        try await server.expectServesGoodClient(certificates)
        try await server.stop()
    }
}
