import Foundation
import Testing

extension LiveProcessTests {
    /// `pygmy bench --only history` on a tiny history: it loads it, starts a cluster on it, and reports every
    /// figure for every replica. Checks presence and consistency only, never timings.
    @Suite(.serialized) struct HistoryBenchTests {
        @Test func historyBenchReportsMemoryRestartsAndSizesOnAConsistentLoadedCluster() async throws {
            let dir = PygmyProcess.temporaryDirectory("pygmy-cli-history")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let run = try await PygmyProcess.run(
                [
                    "bench", "--only", "history", "--history-sizes", "2000", "--base-port",
                    "\(PygmyProcess.freeBasePort())", "--out", dir, "--json",
                ],
                timeout: .seconds(180)
            )
            try #require(run.status == 0, "\(run.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let points = try #require((json["history"] as? [String: Any])?["points"] as? [[String: Any]])
            try #require(points.count == 1)
            let point = points[0]
            #expect(point["orders"] as? Int == 2000)
            #expect(point["consistent"] as? Bool == true, "\(point["problems"] ?? "none")")
            #expect(point["startSeconds"] is Double)
            let rss = point["rssKiB"] as? [String: Int] ?? [:]
            for name in ["catalog-1", "catalog-2", "order-1", "order-2"] {
                #expect((rss[name] ?? 0) > 0, "no RSS for \(name): \(rss)")
            }
            let restarts = point["restarts"] as? [[String: Any]] ?? []
            #expect(restarts.map { $0["node"] as? String } == ["catalog-1", "order-1"])
            for restart in restarts {
                #expect(restart["readyMillis"] is Double, "\(restart)")
            }
            let answers = point["answers"] as? [[String: Any]] ?? []
            #expect(answers.count == 4)
            for answer in answers {
                #expect((answer["bytes"] as? Int ?? 0) > 0, "\(answer)")
            }
            #expect(point["catalogRejoinBytes"] is Int && point["orderRejoinBytes"] is Int)
            #expect(FileManager.default.fileExists(atPath: dir + "/history.svg"))
        }
    }
}
