import NIOCore
import PygmyRPC
import PygmyTLS
import Testing

/// The peer identity and roles announced after the handshake.
@Suite("Peer identity")
struct IdentityTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates.shared() }

    @Test(
        "both sides learn each other's subject and roles",
        arguments: [
            ("client", "CN=client,OU=client,O=Pygmy", Set(["client"])),
            ("admin", "CN=admin,OU=admin,O=Pygmy", Set(["admin"])),
            ("catalog-1", "CN=catalog-1,OU=catalog,O=Pygmy", Set(["catalog"])),
        ]
    )
    func rolesFromCertificates(certificate: String, subject: String, roles: Set<String>) async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context(certificate))
        try await client.roundTrip("who am i")
        let serverSeen = server.recorder.snapshot
        #expect(serverSeen.identities == [RPCPeerIdentity(subject: subject, roles: roles)])
        #expect(serverSeen.handshakes.first?.peerCertificate?.identity == serverSeen.identities.first)
        let clientSeen = client.recorder.snapshot
        #expect(
            clientSeen.identities == [RPCPeerIdentity(subject: "CN=server,OU=frontend,O=Pygmy", roles: ["frontend"])]
        )
        #expect(clientSeen.handshakes.first?.protocolVersion == "TLSv1.3")
        #expect(clientSeen.handshakes.first?.cipher.hasPrefix("TLS_") == true)
        await client.close()
        try await server.stop()
    }

    @Test("a certificate may grant several roles; unknown role URIs grant nothing")
    func multipleRoles() async throws {
        // `ops` is made with roles admin+client; `root` is rejected by make-certs.sh, so test the parser directly too.
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context("ops"))
        try await client.roundTrip("ops")
        #expect(server.recorder.snapshot.identities.first?.roles == ["admin", "client"])
        await client.close()
        try await server.stop()

        let parsed = TLSPeerCertificate(
            subject: "CN=x",
            uris: [
                "pygmy://role/order", "pygmy://role/root", "https://role/admin", "pygmy://role/catalog",
                "pygmy://role/",
            ]
        )
        #expect(parsed.roles == ["order", "catalog"])
    }

    @Test("a server not requiring client certificates accepts an anonymous client without an identity")
    func optionalClientCertificate() async throws {
        let server = try await TestServer.start(
            tls: try certificates.context("server", requireClientCertificate: false)
        )
        let anonymous = try await TestClient.connect(port: server.port, tls: try certificates.context(nil))
        try await anonymous.roundTrip("anonymous")
        var seen = server.recorder.snapshot
        #expect(seen.handshakes.count == 1 && seen.handshakes.first?.peerCertificate == nil)
        #expect(seen.identities.isEmpty, "no certificate, no RPCPeerAuthenticated")
        await anonymous.close()

        // A certificate is still requested and checked when presented.
        let known = try await TestClient.connect(port: server.port, tls: try certificates.context("admin"))
        try await known.roundTrip("known")
        seen = server.recorder.snapshot
        #expect(seen.identities.map(\.roles) == [["admin"]])
        await known.close()
        try await server.stop()
    }

    @Test("the handler exposes what was negotiated")
    func negotiatedParameters() async throws {
        let server = try await TestServer.start(tls: try certificates.context("server"))
        let client = try await TestClient.connect(port: server.port, tls: try certificates.context("client"))
        try await client.handshake()
        let channel = client.channel
        let details = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: OpenSSLHandler.self).handshakeDetails
        }.get()
        #expect(details?.protocolVersion == "TLSv1.3")
        #expect(details?.peerCertificate?.uris.contains("pygmy://role/frontend") == true)
        await client.close()
        try await server.stop()
    }
}
