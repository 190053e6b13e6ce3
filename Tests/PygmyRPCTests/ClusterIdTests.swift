import Foundation
import NIOCore
import PygmyRPC
import PygmyWire
import Testing

/// PROTOCOL.md §2.1: peers of different clusters refuse each other; a side without a cluster id accepts
/// any peer.
@Suite struct ClusterIdTests {
    let a = UUID(uuidString: "AAAAAAAA-0000-4000-8000-000000000001")!
    let b = UUID(uuidString: "BBBBBBBB-0000-4000-8000-000000000002")!

    func client(_ port: Int, _ clusterId: UUID?) -> RPCClient {
        RPCClient(host: "127.0.0.1", port: port, configuration: .defaults { $0.clusterId = clusterId })
    }

    @Test("§2.1 a client of another cluster is refused with both ids named")
    func aClientOfAnotherClusterIsRefused() async throws {
        try await withTestServer({ $0.clusterId = a }) { _, port in
            let client = client(port, b)
            defer { Task { await client.close() } }
            do {
                _ = try await client.call(Echo.self, "hi", timeout: .seconds(5))
                Issue.record("a client of cluster b was served by a server of cluster a")
            } catch let error as TransportError {
                #expect(error.kind == .wrongCluster, "\(error)")
                #expect(error.message.contains(a.uuidString.lowercased()), "\(error)")
                #expect(error.message.contains(b.uuidString.lowercased()), "\(error)")
            }
        }
    }

    @Test("§2.1 a side without a cluster id accepts a peer of any cluster")
    func aSideWithoutAnIdAcceptsAnyPeer() async throws {
        for (server, clientId) in [(a, nil), (nil, b), (a, a)] as [(UUID?, UUID?)] {
            try await withTestServer({ $0.clusterId = server }) { _, port in
                let client = client(port, clientId)
                defer { Task { await client.close() } }
                let answer = try await client.call(Echo.self, "hi", timeout: .seconds(5))
                #expect(answer == "hi")
            }
        }
    }

    @Test("§2.1 the server refuses a client's foreign id on stream 0 (error 9) and runs nothing it sent")
    func theServerRefusesAForeignIdItself() async throws {
        try await withTestServer({ $0.clusterId = a }) { _, port in
            let raw = try await RawConnection.connect(port: port)
            var hello = ByteBuffer()
            Hello(role: .client, flags: Hello.clusterIdFollows).write(to: &hello)
            let request = Frame.request(
                streamID: 1,
                method: Echo.name,
                timeoutMicros: 0,
                payload: ByteBuffer(bytes: try BinaryEncoder().encode("hi"))
            )
            try await raw.send(Array(hello.readableBytesView) + frameBytes(.clusterId(b)) + frameBytes(request))
            #expect(await raw.waitForClose())
            var bytes = ByteBuffer(bytes: raw.bytes)
            var decoder = FrameDecoder()
            var messages: [WireMessage] = []
            while let message = try decoder.decodeMessage(&bytes) { messages.append(message) }
            #expect(messages.count == 3, "\(messages)")
            guard messages.count == 3 else { return }
            #expect(messages[0] == .hello(Hello(role: .unspecified, flags: Hello.clusterIdFollows)))
            #expect(messages[1] == .frame(.clusterId(a)))
            guard case .frame(.error(0, 9, let message)) = messages[2] else {
                Issue.record("expected error 9 on stream 0, got \(messages[2])")
                return
            }
            #expect(message.contains("this node belongs to cluster \(a.uuidString.lowercased())"), "\(message)")
            #expect(message.contains("you asked for cluster \(b.uuidString.lowercased())"), "\(message)")
        }
    }
}
