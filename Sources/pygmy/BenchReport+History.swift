import Foundation
import PygmyCluster

extension BenchReport {
    /// The history experiment's table: one row per history size.
    static func history(_ h: HistoryResults) -> String {
        var lines = [
            "History (issue 14) — per size, a new cluster started on that many stored orders; catalog-1, then order-1 killed (SIGKILL) and restarted",
            "orders".leftPadding(9) + "load s".leftPadding(8) + "start s".leftPadding(9)
                + "  RSS MiB c-1/c-2/o-1/o-2".padding(29) + "restart c-1 / o-1: ready (listening) ms".padding(42)
                + "snapshot MB".leftPadding(12) + "order.list MB".leftPadding(14) + "  paged (s)".padding(20)
                + "  consistent",
        ]
        func mib(_ kib: Int?) -> String { kib.map { String(format: "%.0f", Double($0) / 1024) } ?? "-" }
        func mb(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1e6) } ?? "failed" }
        func restart(_ r: HistoryRestart?) -> String {
            guard let r else { return "-" }
            let listening = r.listeningMillis.map { String(format: "%.0f", $0) } ?? "-"
            let ready = r.readyMillis.map { String(format: "%.0f", $0) } ?? "not in \(Int(r.timeoutSeconds)) s"
            return "\(ready) (\(listening))"
        }
        func paged(_ p: HistoryPaging?) -> String {
            guard let p else { return "-" }
            let ok = p.error == nil && p.repeated == 0 ? "" : " !"
            return "\(p.orders) (\(String(format: "%.1f", p.seconds)))\(ok)"
        }
        for p in h.points {
            let rss = ["catalog-1", "catalog-2", "order-1", "order-2"].map { mib(p.rssKiB[$0]) }.joined(separator: "/")
            let restarts = ["catalog-1", "order-1"].map { name in restart(p.restarts.first { $0.node == name }) }
            let snapshot = p.answers.first { $0.method == "catalog.snapshot" }?.bytes
            let log = p.answers.first { $0.method == "order.list" }?.bytes
            lines.append(
                "\(p.orders)".leftPadding(9) + String(format: "%.1f", p.loadSeconds).leftPadding(8)
                    + (p.startSeconds.map { String(format: "%.1f", $0) } ?? "never").leftPadding(9) + "  "
                    + rss.padding(27) + restarts.joined(separator: " / ").padding(42) + mb(snapshot).leftPadding(12)
                    + mb(log).leftPadding(14) + "  " + paged(p.paging).padding(20) + "  "
                    + (p.consistent ? "yes" : "NO")
            )
        }
        lines.append(
            "RSS: VmRSS of each replica's process after start-up. Restart: process start → node.health answers (listening) → state ready. "
                + "snapshot / order.list: the encoded answer a catalog rejoin or anti-entropy pull fetches from one replica "
                + "(a catalog rejoin takes one snapshot and every order replica's list; an order replica's recovery every peer's list). "
                + "paged: distinct orders read after the restarts through frontend.ordersPage, 1,000 a page, and the seconds it took. "
                + "consistent: lookups, digests and order counts agree with the history, before and after the restarts, and the pages missed and repeated no order."
        )
        for p in h.points where !p.problems.isEmpty {
            lines.append("\("\(p.orders)") orders: " + p.problems.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }
}
