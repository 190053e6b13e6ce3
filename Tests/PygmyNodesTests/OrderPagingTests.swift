import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Testing

/// `frontend.ordersPage` (PROTOCOL.md §6.3): a cursor pages through the whole log with no gap and no
/// repeat, while buys go on between the pages.
@Suite(.serialized) struct OrderPagingTests {
    func page(_ cluster: TestCluster, limit: Int, cursor: String? = nil, item: ItemID? = nil) async throws -> OrderPage
    {
        try await cluster.client.call(
            Frontend.OrdersPage.self,
            OrderPageRequest(limit: limit, cursor: cursor, item: item)
        )
    }

    @Test("§6.3 paging while buys go on misses and repeats no order")
    func pagesWhileBuying() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            var bought: [String] = []
            for index in 0..<12 {
                bought.append(try await cluster.buy(index % 2 == 0 ? 1 : 3, requestId: "before-\(index)").requestId)
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await page(cluster, limit: 5, cursor: cursor)
                #expect(page.orders.count <= 5)
                seen += page.orders.map(\.requestId)
                cursor = page.next
                pages += 1
                if pages <= 2 {
                    // More buys between pages: they come on later pages, once.
                    bought.append(try await cluster.buy(1, requestId: "during-\(pages)").requestId)
                }
            } while cursor != nil && pages < 50
            #expect(Set(seen) == Set(bought), "paged: \(seen.sorted()), bought: \(bought.sorted())")
            #expect(seen.count == Set(seen).count, "an order came twice: \(seen)")
            #expect(pages == 3, "14 orders in pages of 5 are 3 pages, not \(pages)")

            let item3 = try await page(cluster, limit: 100, item: 3)
            #expect(item3.orders.count == 6 && item3.orders.allSatisfy { $0.item == 3 })
            #expect(item3.next == nil)
        }
    }

    @Test("§6.3 a bad limit or cursor is refused with a next step")
    func badArguments() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            await #expect { _ = try await page(cluster, limit: 0) } throws: { bookstoreCode($0) == .invalidValue }
            await #expect { _ = try await page(cluster, limit: OrderPaging.maxLimit + 1) } throws: {
                bookstoreCode($0) == .invalidValue
            }
            await #expect { _ = try await page(cluster, limit: 5, cursor: "nonsense") } throws: {
                bookstoreCode($0) == .invalidValue && "\($0)".contains("not a cursor")
            }
            await #expect { _ = try await page(cluster, limit: 5, cursor: "order-9:3") } throws: {
                bookstoreCode($0) == .invalidValue && "\($0)".contains("without a cursor")
            }
        }
    }

    @Test("§6.3 a page cursor continues at the replica that made it")
    func theCursorNamesItsReplica() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            for index in 0..<4 { _ = try await cluster.buy(3, requestId: "r\(index)") }
            let first = try await page(cluster, limit: 2)
            let next = try #require(first.next)
            let replica = try #require(OrderPaging.parse(next)).replica
            await cluster.crash(replica)
            await #expect { _ = try await page(cluster, limit: 2, cursor: next) } throws: {
                bookstoreCode($0) == .unavailable && "\($0)".contains(replica)
            }
        }
    }
}
