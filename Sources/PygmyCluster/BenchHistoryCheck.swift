import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC

/// Checks that a cluster started on a loaded history agrees with it, through the calls an operator has:
/// the frontend's lookups, and `frontend.status` (what `pygmy status` shows).
struct BenchHistoryCheck {
    let local: LocalCluster
    let data: BenchHistoryData
    let admin: RPCClient

    /// What does not agree (empty: consistent).
    func problems() async -> [String] {
        var problems: [String] = []
        let expected = data.expectedStock()
        do {
            let client = try local.client(timeout: .seconds(15))
            for item in expected.keys.sorted() {
                let book = try await client.call(Frontend.Lookup.self, LookupRequest(item: item))
                if book.stock != expected[item] {
                    problems.append("lookup \(item): stock \(book.stock), expected \(expected[item]!)")
                }
            }
            await client.close()
        } catch {
            problems.append("lookup: \(error)")
        }
        do {
            let status = try await admin.call(Frontend.Status.self, Empty(), timeout: .seconds(30))
            problems += Self.statusProblems(status, orders: data.orders, stock: expected)
        } catch {
            problems.append("status: \(error)")
        }
        return problems
    }

    /// Pages through the whole log as `pygmy orders --limit 1000` does, and counts what came (a gap shows
    /// as fewer orders than the history holds, a repeat as `repeated`).
    func pageThroughLog(limit: Int = 1_000) async -> HistoryPaging {
        var paging = HistoryPaging(limit: limit)
        let start = ContinuousClock.now
        var seen = Set<String>()
        seen.reserveCapacity(data.orders)
        var cursor: String?
        do {
            repeat {
                let request = OrderPageRequest(limit: limit, cursor: cursor)
                let page = try await admin.call(Frontend.OrdersPage.self, request, timeout: .seconds(30))
                paging.pages += 1
                for order in page.orders where !seen.insert(order.requestId).inserted { paging.repeated += 1 }
                cursor = page.next
            } while cursor != nil
        } catch {
            paging.error = "\(error)"
        }
        paging.orders = seen.count
        paging.seconds = (ContinuousClock.now - start).seconds
        return paging
    }

    /// Equal digests among the catalog replicas and among the order replicas, every order counted at
    /// every order replica, and every catalog replica's stock on hand as expected with nothing held.
    static func statusProblems(_ status: ClusterStatus, orders: Int, stock: [ItemID: Int]) -> [String] {
        var problems = status.unreachable.map { "status: \($0) unreachable" }
        for role in ["catalog", "order"] {
            let nodes = status.nodes.filter { $0.role == role }
            let digests = Set(nodes.map { $0.digest.map { String($0, radix: 16) } ?? "none" })
            if nodes.count < 2 {
                problems.append("\(nodes.count) \(role) replica(s) answered the status: digests not compared")
            } else if digests.count != 1 || digests.contains("none") {
                problems.append(
                    "\(role) digests differ: "
                        + nodes.map { "\($0.name) \($0.digest.map { String($0, radix: 16) } ?? "none")" }
                        .joined(separator: ", ")
                )
            }
        }
        for node in status.nodes where node.role == "order" && node.orderCount != orders {
            problems.append("\(node.name) counts \(node.orderCount ?? -1) orders, expected \(orders)")
        }
        for node in status.nodes where node.role == "catalog" {
            let onHand = Dictionary(uniqueKeysWithValues: (node.stock ?? []).map { ($0.item, $0) })
            for (item, copies) in stock where onHand[item]?.onHand != copies || onHand[item]?.held != 0 {
                problems.append(
                    "\(node.name) item \(item): on hand \(onHand[item]?.onHand ?? -1), held \(onHand[item]?.held ?? -1), expected \(copies) and 0"
                )
            }
        }
        return problems
    }
}
