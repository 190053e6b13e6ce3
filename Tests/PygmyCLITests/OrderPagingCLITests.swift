import Foundation
import Testing

extension LiveProcessTests.OperatorTests {
    /// `pygmy orders --limit N [--cursor C]` pages through the whole log through the real executable:
    /// every order once, the cursor of the next page in `next` (absent on the last), and a bad limit
    /// refused as a usage error.
    @Test func ordersPageThroughTheLogWithACursor() async throws {
        try await PygmyProcess.withReadyCluster("pygmy-ops-pages") { dir in
            let bought = (1...5).map { "page-\($0)" }
            for id in bought {
                let buy = try await PygmyProcess.run(["buy", "3", "--request-id", id, "--cluster", dir, "--json"])
                #expect(buy.status == 0, "\(buy.stdout) \(buy.stderr)")
            }

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let args =
                    ["orders", "--limit", "2", "--cluster", dir, "--json"] + (cursor.map { ["--cursor", $0] } ?? [])
                let page = try await PygmyProcess.run(args)
                #expect(page.status == 0, "\(page.stdout) \(page.stderr)")
                let object = try json(page.stdout)
                let orders = try #require(object["orders"] as? [[String: Any]], "\(page.stdout)")
                #expect(orders.count <= 2)
                seen += orders.compactMap { $0["requestId"] as? String }
                cursor = object["next"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen.sorted() == bought, "pages gave \(seen)")
            #expect(pages == 3, "5 orders in pages of 2 are 3 pages, not \(pages)")

            let all = try await PygmyProcess.run(["orders", "--cluster", dir, "--json"])
            let everything = try json(all.stdout)
            #expect((everything["orders"] as? [Any])?.count == 5 && everything["next"] == nil, "\(all.stdout)")
            let text = try await PygmyProcess.run(["orders", "--limit", "1", "--cluster", dir])
            #expect(text.status == 0 && text.stdout.contains("next page: --cursor "), "\(text.stdout)")
            let byItem = try await PygmyProcess.run(["orders", "--item", "1", "--cluster", dir, "--json"])
            #expect((try json(byItem.stdout)["orders"] as? [Any])?.isEmpty == true, "\(byItem.stdout)")

            let bad = try await PygmyProcess.run(["orders", "--limit", "0", "--cluster", dir, "--json"])
            let (code, message) = try failure(bad, exit: 64)
            #expect(code == "invalidArguments" && message.contains("--limit"), "\(message)")
            let notACursor = try await PygmyProcess.run(["orders", "--cursor", "x", "--cluster", dir, "--json"])
            #expect(notACursor.status != 0 && notACursor.stdout.contains("not a cursor"), "\(notACursor.stdout)")
        }
    }
}
