import Foundation
import NIOCore
import PygmyTLS
import Testing

/// Our handler against the reference implementation: the `openssl s_client` / `s_server` tools.
@Suite("Interoperability with the openssl command line tools", .serialized)
struct InteropTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates.shared() }

    private func sClient(port: Int, certificate: String = "client", extra: [String] = []) throws -> OpenSSLProcess {
        try OpenSSLProcess(
            [
                "s_client", "-connect", "127.0.0.1:\(port)",
                "-CAfile", certificates.path("ca.crt"),
                "-cert", certificates.path("\(certificate).crt"), "-key", certificates.path("\(certificate).key"),
                "-verify_return_error", "-verify_ip", "127.0.0.1", "-quiet", "-no_ign_eof",
            ] + extra
        )
    }

    /// The port `s_server -accept 127.0.0.1:0` chose.
    private static func acceptedPort(of server: OpenSSLProcess) async throws -> Int {
        let banner = try await server.waitForOutput(containing: "ACCEPT 127.0.0.1:")
        let digits = banner.split(separator: "ACCEPT 127.0.0.1:").last?.prefix { $0.isNumber } ?? ""
        return try #require(Int(digits))
    }

    @Test("our server echoes for openssl s_client and handles its close_notify")
    func serverAcceptsOpenSSLClient() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try sClient(port: server.port)
        client.send("hello from s_client\n")
        try await client.waitForOutput(containing: "hello from s_client")
        client.closeInput()
        #expect(try await client.waitForExit() == 0)

        let seen = try await server.recorder.wait("server connection to close") { $0.inactiveCount == 1 }
        #expect(seen.tlsErrors.isEmpty, "s_client's close_notify must make this a clean close")
        #expect(seen.handshakes.first?.protocolVersion == "TLSv1.3")
        #expect(seen.identities == [.init(subject: "CN=client,OU=client,O=Pygmy", roles: ["client"])])
        try await server.stop()
    }

    @Test("our server accepts TLS 1.2 when the minimum allows it")
    func serverAcceptsTLS12() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try sClient(port: server.port, extra: ["-tls1_2"])
        client.send("over tls 1.2\n")
        try await client.waitForOutput(containing: "over tls 1.2")
        client.closeInput()
        #expect(try await client.waitForExit() == 0)
        let seen = try await server.recorder.wait("TLS 1.2 handshake") { !$0.handshakes.isEmpty }
        #expect(seen.handshakes.first?.protocolVersion == "TLSv1.2")
        #expect(seen.handshakes.first?.cipher.hasPrefix("ECDHE-ECDSA-") == true)
        try await server.stop()
    }

    @Test("our server refuses renegotiation requested by openssl s_client (TLS 1.2)")
    func renegotiationRefused() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try sClient(port: server.port, extra: ["-tls1_2"])
        client.send("before\n")
        try await client.waitForOutput(containing: "before")
        client.send("R\n")
        try await client.waitForOutput(containing: "RENEGOTIATING")
        try await client.waitForOutput(containing: "no renegotiation")
        client.terminate()
        let seen = try await server.recorder.wait("connection to end") { $0.inactiveCount == 1 }
        #expect(seen.handshakes.count == 1, "only the initial handshake may complete")
        #expect(seen.tlsErrors.first?.message == "TLS connection failed: sslv3 alert handshake failure")
        try await server.stop()
    }

    @Test("our client refuses renegotiation requested by openssl s_server (TLS 1.2)")
    func clientRefusesRenegotiation() async throws {
        let server = try OpenSSLProcess([
            "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-tls1_2",
            "-cert", certificates.path("server.crt"), "-key", certificates.path("server.key"),
            "-CAfile", certificates.path("ca.crt"), "-Verify", "1", "-verify_return_error",
        ])
        let port = try await Self.acceptedPort(of: server)
        let client = try await TestClient.connect(port: port, tls: try certificates.context("client"))
        try await client.send("hello\n")
        try await server.waitForOutput(containing: "hello")
        server.send("r\n")  // s_server: SSL_renegotiate
        let seen = try await client.recorder.wait("connection to end") { $0.inactiveCount == 1 }
        #expect(seen.handshakes.count == 1, "only the initial handshake may complete")
        #expect(seen.tlsErrors.map(\.message) == ["TLS connection failed: sslv3 alert handshake failure"])
        server.terminate()
    }

    @Test("a TLS 1.3 minimum rejects a TLS 1.2 client with a clear error")
    func minimumVersionRejectsTLS12() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server", minimumVersion: .tls13))
        let client = try sClient(port: server.port, extra: ["-tls1_2"])
        #expect(try await client.waitForExit() != 0)
        let seen = try await server.recorder.wait("version error") { !$0.tlsErrors.isEmpty }
        #expect(seen.tlsErrors.first?.kind == .handshakeFailed)
        #expect(
            seen.tlsErrors.first?.message
                == "TLS handshake failed: unsupported protocol (no TLS version both sides allow)"
        )
        try await server.expectServesGoodClient(certificates)
        try await server.stop()
    }

    @Test(
        "our client completes a handshake with openssl s_server and exchanges bytes; SNI only for host names",
        arguments: ["127.0.0.1", "localhost"]
    )
    func clientConnectsToOpenSSLServer(serverName: String) async throws {
        let server = try OpenSSLProcess([
            "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev", "-trace",
            "-cert", certificates.path("server.crt"), "-key", certificates.path("server.key"),
            "-CAfile", certificates.path("ca.crt"), "-Verify", "1", "-verify_return_error",
        ])
        let port = try await Self.acceptedPort(of: server)
        let client = try await TestClient.connect(
            port: port,
            tls: try certificates.context("client"),
            serverName: serverName
        )
        try await client.send("hello pygmy\n")
        let seen = try await client.recorder.wait("reversed echo") { $0.receivedString.contains("ymgyp olleh") }
        #expect(seen.handshakes.first?.protocolVersion == "TLSv1.3")
        #expect(seen.identities.first?.roles == ["frontend"])
        #expect(seen.tlsErrors.isEmpty)
        await client.close()
        #expect(try await server.waitForExit() == 0)
        #expect(server.text.contains("CN = client"), "s_server must have seen our client certificate")
        let sentSNI = server.text.contains("extension_type=server_name")
        #expect(sentSNI == (serverName == "localhost"), "SNI is sent for host names and never for IP addresses")
    }
}
