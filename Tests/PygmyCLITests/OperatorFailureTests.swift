import Foundation
import Testing

extension LiveProcessTests.OperatorTests {
    /// A cluster directory whose topology names another cluster id refuses the running cluster's frontend
    /// (exit 5, both ids named); the same frontend given by address alone (no id) is accepted.
    @Test func aClientOfAnotherClusterIsRefusedWithBothIds() async throws {
        let dir = PygmyProcess.temporaryDirectory("pygmy-ops-cluster")
        let other = PygmyProcess.temporaryDirectory("pygmy-ops-cluster-other")
        defer { try? FileManager.default.removeItem(atPath: other) }
        try await PygmyProcess.withClusterDown(dir) {
            let up = try await PygmyProcess.run([
                "cluster", "up", "--dir", dir, "--base-port", "\(PygmyProcess.freeBasePort())", "--detach",
            ])
            #expect(up.status == 0, "cluster up failed: \(up.stderr)")
            let text = try String(contentsOfFile: dir + "/topology.json", encoding: .utf8)
            let object = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let ours = try #require(object["clusterId"] as? String).lowercased()
            let theirs = UUID().uuidString.lowercased()
            try text.replacingOccurrences(of: try #require(object["clusterId"] as? String), with: theirs)
                .write(toFile: other + "/topology.json", atomically: true, encoding: .utf8)

            let refused = try await PygmyProcess.run(["lookup", "1", "--cluster", other, "--json"])
            let (code, message) = try failure(refused, exit: 5)
            #expect(code == "wrongCluster", "\(message)")
            #expect(message.contains("belongs to cluster \(ours)"), "\(message)")
            #expect(message.contains("you asked for cluster \(theirs)"), "\(message)")
            #expect(message.contains("check --cluster/--frontend"), "\(message)")
            let textRefused = try await PygmyProcess.run(["lookup", "1", "--cluster", other])
            #expect(textRefused.status == 5 && textRefused.stderr.contains("belongs to cluster"), "\(textRefused)")

            let nodes = try #require(object["nodes"] as? [[String: Any]])
            let port = try #require(nodes.first { $0["role"] as? String == "frontend" }?["port"] as? Int)
            let byAddress = try await PygmyProcess.run(["lookup", "1", "--frontend", "127.0.0.1:\(port)", "--json"])
            #expect(byAddress.status == 0, "\(byAddress.stdout) \(byAddress.stderr)")
            let own = try await PygmyProcess.run(["lookup", "1", "--cluster", dir, "--json"])
            #expect(own.status == 0, "\(own.stdout) \(own.stderr)")
        }
    }

    /// With every catalog replica (then every order replica) killed, each command answers at once with
    /// exit 7 and one wording, "unavailable: …; retry later"; a buy does not wait for its deadline.
    @Test func everyUnavailablePathExitsSevenWithOneWording() async throws {
        try await PygmyProcess.withReadyCluster("pygmy-ops-unavailable") { dir in
            for name in ["catalog-1", "catalog-2"] {
                #expect(try await PygmyProcess.run(["cluster", "kill", "--dir", dir, name]).status == 0)
            }
            // The frontend learns within a heartbeat or two that both refuse connections.
            var buy = try await PygmyProcess.run(["buy", "1", "--cluster", dir, "--json"])
            for _ in 0..<50 where !buy.stdout.contains("every catalog replica is down") {
                try await Task.sleep(for: .milliseconds(100))
                buy = try await PygmyProcess.run(["buy", "1", "--cluster", dir, "--json"])
            }
            let (buyCode, buyMessage) = try failure(buy, exit: 7)
            #expect(buyCode == "unavailable", "\(buyMessage)")
            #expect(buyMessage.hasPrefix("unavailable: every catalog replica is down"), "\(buyMessage)")
            for command in [
                ["lookup", "1"], ["search", "distributed systems"], ["restock", "1", "2"], ["price", "1", "5"],
            ] {
                let result = try await PygmyProcess.run(command + ["--cluster", dir, "--json"])
                let (code, message) = try failure(result, exit: 7)
                #expect(code == "unavailable", "\(command): \(message)")
                #expect(
                    message.hasPrefix("unavailable: ") && message.hasSuffix("retry later"),
                    "\(command): \(message)"
                )
                #expect(!message.contains("connectFailed") && !message.contains("next attempt"), "\(message)")
            }
            let text = try await PygmyProcess.run(["lookup", "1", "--cluster", dir])
            #expect(text.status == 7 && text.stderr.hasPrefix("error: unavailable: "), "\(text.stderr)")

            for name in ["order-1", "order-2"] {
                #expect(try await PygmyProcess.run(["cluster", "kill", "--dir", dir, name]).status == 0)
            }
            var orders = try await PygmyProcess.run(["orders", "--cluster", dir, "--json"])
            for _ in 0..<50 where orders.status != 7 {
                try await Task.sleep(for: .milliseconds(100))
                orders = try await PygmyProcess.run(["orders", "--cluster", dir, "--json"])
            }
            let (code, message) = try failure(orders, exit: 7)
            #expect(code == "unavailable" && message.contains("no order replica could answer"), "\(message)")
            // The replicas the frontend still took for up were tried; each is named with its state.
            #expect(message.contains("is down (connection refused)"), "\(message)")
        }
    }
}
