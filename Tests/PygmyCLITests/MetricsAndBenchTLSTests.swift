import Foundation
import NIOCore
import NIOPosix
import Testing

extension LiveProcessTests {
    /// The operator's view of a TLS cluster of real processes: `pygmy bench --frontend` with certificates,
    /// and a node's Prometheus endpoint turned on in the topology.
    @Suite(.serialized) struct MetricsAndBenchTLSTests {
        @Test func benchRunsAgainstATLSFrontendAndANodeServesMetricsOverHTTP() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-cli-metrics")
            let base = PygmyProcess.freeBasePort()
            try await PygmyProcess.withClusterDown(dir) {
                let up = try await PygmyProcess.run([
                    "cluster", "up", "--dir", dir, "--base-port", "\(base)", "--tls", "--detach",
                ])
                try #require(up.status == 0, "cluster up --tls failed: \(up.stderr)")
                let certs = dir + "/certs"
                let client = [
                    "--frontend", "127.0.0.1:\(base)", "--cert", "\(certs)/client.crt", "--key", "\(certs)/client.key",
                    "--ca", "\(certs)/ca.crt",
                ]
                let admin = ["--admin-cert", "\(certs)/admin.crt", "--admin-key", "\(certs)/admin.key"]
                let small = [
                    "bench", "--only", "latency", "--clients", "1", "--requests", "5", "--out", dir + "/bench",
                ]

                let bench = try await PygmyProcess.run(small + client + admin, timeout: .seconds(120))
                #expect(bench.status == 0, "\(bench.stderr)")
                #expect(bench.stdout.contains("frontend 127.0.0.1:\(base) (TLS)"), "\(bench.stdout)")
                #expect(FileManager.default.fileExists(atPath: dir + "/bench/latest.json"))
                // A client certificate alone may not restock: the bench says what to give.
                let noAdmin = try await PygmyProcess.run(small + client, timeout: .seconds(120))
                #expect(noAdmin.status != 0 && noAdmin.stderr.contains("--admin-cert"), "\(noAdmin.stderr)")
                // PYGMY_CERTS_DIR gives both certificates, as for the other commands.
                let fromEnvironment = try await PygmyProcess.run(
                    small + ["--frontend", "127.0.0.1:\(base)"],
                    environment: ["PYGMY_CERTS_DIR": certs],
                    timeout: .seconds(120)
                )
                #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
                let misplaced = try await PygmyProcess.run(["bench", "--cert", "a", "--key", "b", "--ca", "c"])
                #expect(
                    misplaced.status == 64 && misplaced.stderr.contains("go with --frontend"),
                    "\(misplaced.stderr)"
                )

                // The frontend again, now with metricsPort 0: it logs the port it bound.
                #expect(try await PygmyProcess.run(["cluster", "kill", "--dir", dir, "frontend"]).status == 0)
                let topologyPath = dir + "/topology.json"
                var topology = try #require(
                    JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: topologyPath)))
                        as? [String: Any]
                )
                var nodes = try #require(topology["nodes"] as? [[String: Any]])
                for index in nodes.indices where nodes[index]["name"] as? String == "frontend" {
                    nodes[index]["metricsPort"] = 0
                }
                topology["nodes"] = nodes
                try JSONSerialization.data(withJSONObject: topology).write(to: URL(fileURLWithPath: topologyPath))
                let start = try await PygmyProcess.run(["cluster", "start", "--dir", dir, "frontend"])
                try #require(start.status == 0, "\(start.stderr)")
                let url = try #require(
                    await Self.metricsURL(inLog: dir + "/logs/frontend.log"),
                    "no metrics address logged"
                )
                let port = try #require(Int(url.split(separator: ":").last?.split(separator: "/").first ?? ""))
                #expect(try await PygmyProcess.run(["lookup", "1"] + client).status == 0)
                #expect(try await PygmyProcess.run(["lookup", "1"] + client).status == 0)
                let metrics = try await Self.get(port: port)
                #expect(metrics.contains("pygmy_rpc_requests_total{method=\"frontend.lookup\"} 2"), "\(metrics)")
                // Hits and misses depend on whether the frontend had subscribed to the catalogs yet (it
                // bypasses its cache until then); MetricsTests checks their values.
                #expect(metrics.contains("pygmy_cache_hits_total ") && metrics.contains("pygmy_peer_up{"), "\(metrics)")
                #expect(metrics.contains("pygmy_node_info{role=\"frontend\""), "\(metrics)")
            }
        }

        /// The metrics address the frontend's latest start logged, waiting up to 10 s for the line.
        static func metricsURL(inLog path: String) async -> Substring? {
            let deadline = ContinuousClock.now + .seconds(10)
            repeat {
                let log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                let line = log.split(separator: "\n").last { $0.contains("frontend node listening") }
                if let url = line?.split(separator: " ").first(where: { $0.hasPrefix("metrics=http://127.0.0.1:") }) {
                    return url
                }
                try? await Task.sleep(for: .milliseconds(50))
            } while ContinuousClock.now < deadline
            return nil
        }

        /// The body of `GET /metrics` on 127.0.0.1:`port`.
        static func get(port: Int) async throws -> String {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                )
                var text = ""
                for try await var chunk in inbound { text += chunk.readString(length: chunk.readableBytes) ?? "" }
                return text
            }
        }
    }
}
