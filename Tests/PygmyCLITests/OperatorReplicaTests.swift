import Foundation
import Testing

extension LiveProcessTests.OperatorTests {
    /// `--node` reads one replica's own state (admin): an order replica's log, a catalog replica's raw
    /// stock; and `price --op-id` versions by the op id, so a retry is idempotent and never overwrites a
    /// newer price.
    @Test func perReplicaReadsAndPriceVersionsByOpId() async throws {
        try await PygmyProcess.withReadyCluster("pygmy-ops-node") { dir in
            let buy = try await PygmyProcess.run([
                "buy", "1", "--quantity", "2", "--request-id", "node-read", "--cluster", dir, "--json",
            ])
            #expect(buy.status == 0, "\(buy.stdout) \(buy.stderr)")

            for replica in ["order-1", "order-2"] {
                var log = try await PygmyProcess.run(["orders", "--node", replica, "--cluster", dir, "--json"])
                for _ in 0..<50 where !log.stdout.contains("node-read") {
                    try await Task.sleep(for: .milliseconds(100))
                    log = try await PygmyProcess.run(["orders", "--node", replica, "--cluster", dir, "--json"])
                }
                #expect(log.status == 0, "\(log.stdout) \(log.stderr)")
                let orders = try #require(try json(log.stdout)["orders"] as? [[String: Any]], "\(log.stdout)")
                #expect(orders.contains { $0["requestId"] as? String == "node-read" }, "\(replica): \(log.stdout)")
                #expect(try json(log.stdout)["rejections"] is [Any], "\(log.stdout)")
            }

            let front = try json(try await PygmyProcess.run(["lookup", "1", "--cluster", dir, "--json"]).stdout)
            let raw = try await PygmyProcess.run(["lookup", "1", "--node", "catalog-1", "--cluster", dir, "--json"])
            #expect(raw.status == 0, "\(raw.stdout) \(raw.stderr)")
            let item = try json(raw.stdout)
            #expect(item["node"] as? String == "catalog-1" && item["state"] as? String == "ready", "\(raw.stdout)")
            #expect(item["stock"] as? Int == front["stock"] as? Int && item["held"] as? Int == 0, "\(raw.stdout)")
            let text = try await PygmyProcess.run(["lookup", "1", "--node", "catalog-2", "--cluster", dir])
            #expect(text.status == 0 && text.stdout.contains("at catalog-2 (ready), 0 held"), "\(text.stdout)")
            let unknown = try await PygmyProcess.run(["lookup", "1", "--node", "catalog-9", "--cluster", dir, "--json"])
            let (code, message) = try failure(unknown, exit: 64)
            #expect(code == "invalidArguments" && message.contains("catalog-1, catalog-2"), "\(message)")

            // Prices: the op id's leading number is the version.
            func price(_ cost: Int, _ opId: String?) async throws -> Int? {
                let extra = opId.map { ["--op-id", $0] } ?? []
                let result = try await PygmyProcess.run(["price", "2", "\(cost)", "--cluster", dir, "--json"] + extra)
                #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
                return try json(result.stdout)["cost"] as? Int
            }
            #expect(try await price(30, "5000-a") == 30)
            #expect(try await price(30, "5000-a") == 30, "a retry changes nothing")
            #expect(try await price(40, "4000-b") == 30, "an older version loses")
            #expect(try await price(50, nil) == 50, "the default version (now, in µs) is newer")
            #expect(try await price(30, "5000-a") == 50, "a late retry does not overwrite a newer price")
            let bad = try await PygmyProcess.run(["price", "2", "5", "--op-id", "p-1", "--cluster", dir, "--json"])
            let (badCode, badMessage) = try failure(bad, exit: 64)
            #expect(
                badCode == "invalidArguments" && badMessage.contains("must start with its version"),
                "\(badMessage)"
            )
        }
    }
}
