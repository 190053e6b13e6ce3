import Foundation
import PygmyNodes

extension BenchCharts {
    /// One series of a history panel: a name, a color, and a value per history size (nil: none).
    private struct Series {
        var name: String
        var color: String
        var values: [Double?]
        var dash: String? = nil
        /// Sizes at which the figure was never reached (drawn as a × at the top of the panel).
        var failed: [Bool] = []
    }

    /// Issue 14: memory, restart time and answer sizes against the number of orders, three log-log panels.
    static func history(_ r: BenchResults) -> String? {
        guard let points = r.history?.points, !points.isEmpty else { return nil }
        let width = 1140.0
        let height = 470.0
        var svg = SVG(width: width, height: height)
        svg.title("History: a cluster started on N stored orders (log-log; \(r.machine.build) build)")
        let orders = points.map { Double($0.orders) }
        func answer(_ p: HistoryPoint, _ method: String) -> Double? {
            p.answers.first { $0.method == method }?.bytes.map { Double($0) / 1e6 }
        }
        func restart(_ p: HistoryPoint, _ node: String, ready: Bool) -> Double? {
            let r = p.restarts.first { $0.node == node }
            return ready ? r?.readyMillis : r?.listeningMillis
        }
        let replicas = [
            ("catalog-1", BenchColors.blue), ("catalog-2", BenchColors.teal), ("order-1", BenchColors.red),
            ("order-2", BenchColors.orange),
        ]
        let panels: [(String, String, [Series], Double?)] = [
            (
                "RSS after start-up", "MiB",
                replicas.map { name, color in
                    Series(name: name, color: color, values: points.map { $0.rssKiB[name].map { Double($0) / 1024 } })
                }, nil
            ),
            (
                "Restart (SIGKILL) to ready", "ms",
                [
                    Series(
                        name: "catalog-1 ready",
                        color: BenchColors.blue,
                        values: points.map { restart($0, "catalog-1", ready: true) },
                        failed: points.map { p in
                            p.restarts.contains { $0.node == "catalog-1" && $0.readyMillis == nil }
                        }
                    ),
                    Series(
                        name: "order-1 ready",
                        color: BenchColors.red,
                        values: points.map { restart($0, "order-1", ready: true) },
                        failed: points.map { p in p.restarts.contains { $0.node == "order-1" && $0.readyMillis == nil }
                        }
                    ),
                    Series(
                        name: "catalog-1 listening",
                        color: BenchColors.blue,
                        values: points.map { restart($0, "catalog-1", ready: false) },
                        dash: "4,3"
                    ),
                    Series(
                        name: "order-1 listening",
                        color: BenchColors.red,
                        values: points.map { restart($0, "order-1", ready: false) },
                        dash: "4,3"
                    ),
                ], nil
            ),
            (
                "Answer a rejoin fetches", "MB",
                [
                    Series(
                        name: "catalog.snapshot",
                        color: BenchColors.purple,
                        values: points.map { answer($0, "catalog.snapshot") }
                    ),
                    Series(
                        name: "order.list",
                        color: BenchColors.green,
                        values: points.map { answer($0, "order.list") }
                    ),
                ], Double(PeerLimits.maxFrameLength) / 1e6
            ),
        ]
        for (index, (title, unit, series, limit)) in panels.enumerated() {
            let left = 80 + Double(index) * 375
            drawHistoryPanel(&svg, left: left, title: title, unit: unit, orders: orders, series: series, limit: limit)
        }
        if points.contains(where: { p in p.restarts.contains { $0.readyMillis == nil } }) {
            svg.text(455, height - 12, "× never ready: the bench gave up after 30 s + 1 s per 20k orders", size: 11)
        }
        return svg.render()
    }

    /// One log-log panel at `left`: series against orders, an optional dashed limit line.
    private static func drawHistoryPanel(
        _ svg: inout SVG,
        left: Double,
        title: String,
        unit: String,
        orders: [Double],
        series: [Series],
        limit: Double?
    ) {
        let values = series.flatMap { $0.values.compactMap { $0 } } + (limit.map { [$0] } ?? [])
        let area = PlotArea(
            x: left,
            y: 60,
            width: 280,
            height: 270,
            yMin: niceLog(max(0.001, values.min() ?? 1), up: false),
            yMax: niceLog(max(0.01, values.max() ?? 10) * 1.05, up: true),
            logY: true
        )
        svg.text(left + area.width / 2, 50, title, size: 13, anchor: "middle", bold: true)
        area.drawGrid(&svg, label: unit) { String(format: "%g", $0) }
        let lo = log10(orders.min() ?? 1)
        let hi = log10(orders.max() ?? 10)
        func xPos(_ n: Double) -> Double {
            hi - lo < 1e-9 ? area.x + area.width / 2 : area.x + 10 + (log10(n) - lo) / (hi - lo) * (area.width - 20)
        }
        for n in orders {
            let label =
                n >= 1e6 ? String(format: "%gM", n / 1e6) : n >= 1e3 ? String(format: "%gk", n / 1e3) : "\(Int(n))"
            svg.text(xPos(n), area.y + area.height + 16, label, size: 11, anchor: "middle")
        }
        svg.text(left + area.width / 2, area.y + area.height + 34, "orders in the history", size: 12, anchor: "middle")
        if let limit {
            svg.line(area.x, area.yPos(limit), area.x + area.width, area.yPos(limit), stroke: "#555", dash: "2,4")
            svg.text(area.x + 4, area.yPos(limit) - 4, "peers accept answers up to 64 MiB", size: 10, fill: "#555")
        }
        for s in series {
            let pts = zip(orders, s.values).compactMap { n, v in v.map { (xPos(n), area.yPos($0)) } }
            svg.polyline(pts, stroke: s.color, width: 2, dash: s.dash)
            for (x, y) in pts { svg.circle(x, y, r: 3, fill: s.color) }
            for (n, failed) in zip(orders, s.failed) where failed {
                svg.text(xPos(n), area.y + 14, "×", size: 18, anchor: "middle", fill: s.color, bold: true)
            }
        }
        for (i, s) in series.enumerated() {
            let y = area.y + area.height + 54 + Double(i / 2) * 16
            let x = left + Double(i % 2) * 145
            svg.line(x, y - 4, x + 22, y - 4, stroke: s.color, width: 2, dash: s.dash)
            svg.text(x + 26, y, s.name, size: 11)
        }
    }

    /// The 1-2-5 value at or above (`up`) or at or below `v`.
    private static func niceLog(_ v: Double, up: Bool) -> Double {
        let decade = pow(10, floor(log10(v)))
        let steps = [1.0, 2.0, 5.0, 10.0].map { $0 * decade }
        return up ? steps.first { $0 >= v * 0.999 }! : steps.last { $0 <= v * 1.001 }!
    }
}
