import Foundation

/// Hand-rolled SVG: just what the bench charts need (no dependencies).
struct SVG {
    let width: Double
    let height: Double
    private var body: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A chart's bold title, centred at the top.
    mutating func title(_ text: String) {
        self.text(width / 2, 24, text, size: 15, anchor: "middle", bold: true)
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, title: String? = nil) {
        let tip = title.map { "<title>\(Self.escape($0))</title>" } ?? ""
        body.append(
            "<rect x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(max(0, w)))\" height=\"\(Self.n(max(0, h)))\" fill=\"\(fill)\">\(tip)</rect>"
        )
    }

    mutating func line(
        _ x1: Double,
        _ y1: Double,
        _ x2: Double,
        _ y2: Double,
        stroke: String = "#000",
        width: Double = 1,
        dash: String? = nil
    ) {
        let d = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        body.append(
            "<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(width)\"\(d)/>"
        )
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dash: String? = nil) {
        guard points.count > 1 else { return }
        let d = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        let pts = points.map { "\(Self.n($0.0)),\(Self.n($0.1))" }.joined(separator: " ")
        body.append(
            "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(width)\"\(d) stroke-linejoin=\"round\"/>"
        )
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double = 3, fill: String, title: String? = nil) {
        let tip = title.map { "<title>\(Self.escape($0))</title>" } ?? ""
        body.append("<circle cx=\"\(Self.n(x))\" cy=\"\(Self.n(y))\" r=\"\(r)\" fill=\"\(fill)\">\(tip)</circle>")
    }

    mutating func text(
        _ x: Double,
        _ y: Double,
        _ s: String,
        size: Double = 12,
        anchor: String = "start",
        fill: String = "#222",
        bold: Bool = false,
        rotate: Double? = nil
    ) {
        let r = rotate.map { " transform=\"rotate(\($0) \(Self.n(x)) \(Self.n(y)))\"" } ?? ""
        let w = bold ? " font-weight=\"bold\"" : ""
        body.append(
            "<text x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" fill=\"\(fill)\"\(w)\(r)>\(Self.escape(s))</text>"
        )
    }

    func render() -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#fff"/>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }
}

/// A plot area inside an SVG, with linear or logarithmic y.
struct PlotArea {
    var x: Double
    var y: Double
    var width: Double
    var height: Double
    var yMin: Double
    var yMax: Double
    var logY: Bool

    func yPos(_ v: Double) -> Double {
        if logY {
            let lv = log10(max(v, yMin))
            return y + height - (lv - log10(yMin)) / (log10(yMax) - log10(yMin)) * height
        }
        return y + height - (v - yMin) / (yMax - yMin) * height
    }

    /// Tick values: 1-2-5 per decade for log, a "nice" step for linear.
    func ticks() -> [Double] {
        if logY {
            var out: [Double] = []
            var decade = pow(10, floor(log10(yMin)))
            while decade <= yMax {
                for m in [1.0, 2.0, 5.0] where decade * m >= yMin * 0.999 && decade * m <= yMax * 1.001 {
                    out.append(decade * m)
                }
                decade *= 10
            }
            return out
        }
        let step = PlotArea.niceStep((yMax - yMin) / 5)
        var out: [Double] = []
        var v = (yMin / step).rounded(.up) * step
        while v <= yMax + step * 0.001 {
            out.append(v)
            v += step
        }
        return out
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where raw <= m * magnitude { return m * magnitude }
        return 10 * magnitude
    }

    /// A linear axis maximum with some headroom.
    static func niceMax(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let step = niceStep(v / 5)
        return (v * 1.08 / step).rounded(.up) * step
    }

    func drawGrid(_ svg: inout SVG, label: String, format: (Double) -> String) {
        for t in ticks() {
            let py = yPos(t)
            svg.line(x, py, x + width, py, stroke: "#e3e3e3")
            svg.text(x - 6, py + 4, format(t), size: 11, anchor: "end", fill: "#555")
        }
        svg.line(x, y, x, y + height, stroke: "#888")
        svg.line(x, y + height, x + width, y + height, stroke: "#888")
        svg.text(x - 62, y + height / 2, label, size: 12, anchor: "middle", fill: "#333", rotate: -90)
    }
}

enum BenchColors {
    static let blue = "#4C78A8"
    static let orange = "#F58518"
    static let green = "#54A24B"
    static let red = "#E45756"
    static let teal = "#72B7B2"
    static let purple = "#B279A2"
    static let brown = "#9D755D"
    static let gray = "#8C8C8C"
    static let ops: [BenchOp: String] = [.search: blue, .lookup: green, .buy: red]
}

/// Formats µs for axis labels.
func formatMicros(_ v: Double) -> String {
    if v >= 1_000_000 { return String(format: "%g s", v / 1_000_000) }
    if v >= 1000 { return v >= 10_000 ? String(format: "%.0f ms", v / 1000) : String(format: "%g ms", v / 1000) }
    return String(format: "%g µs", v)
}

/// The charts of `pygmy bench`, written next to `latest.json`.
public enum BenchCharts {
    /// Every chart for which the results have data: file name → SVG text.
    public static func all(_ r: BenchResults) -> [String: String] {
        var out: [String: String] = [:]
        if let svg = tiers(r) { out["latency-tiers.svg"] = svg }
        if let svg = versusClients(r) { out["latency-vs-clients.svg"] = svg }
        if let svg = hitMiss(r) { out["hit-miss.svg"] = svg }
        if let svg = throughput(r) { out["throughput.svg"] = svg }
        if let svg = failover(r) { out["failover.svg"] = svg }
        if let svg = history(r) { out["history.svg"] = svg }
        return out
    }

    // MARK: Latency per tier, cache on and off

    static func tiers(_ r: BenchResults) -> String? {
        let clientCounts = Array(Set(r.latency.map(\.clients))).sorted()
        guard !clientCounts.isEmpty else { return nil }
        let groups: [(BenchOp, String)] = [
            (.search, "client"), (.search, "frontend"), (.search, "catalog"),
            (.lookup, "client"), (.lookup, "frontend"), (.lookup, "catalog"),
            (.buy, "client"), (.buy, "frontend"), (.buy, "catalog"), (.buy, "order"),
        ]
        func value(_ config: LatencyConfig?, _ op: BenchOp, _ tier: String) -> Double? {
            guard let row = config?.row(op) else { return nil }
            switch tier {
            case "client": return row.client.meanMicros
            case "frontend": return row.frontend?.meanMicros
            case "catalog": return row.catalog?.meanMicros
            default: return row.order?.meanMicros
            }
        }
        let panelHeight = 250.0
        let width = 980.0
        var svg = SVG(width: width, height: 70 + Double(clientCounts.count) * (panelHeight + 50))
        svg.text(
            width / 2,
            24,
            "Mean response time per tier, cache on and off (experiment 1)",
            size: 16,
            anchor: "middle",
            bold: true
        )
        svg.text(
            width / 2,
            42,
            "catalog column of buy = the hold phase; search and lookup reach the catalog only on a cache miss",
            size: 11,
            anchor: "middle",
            fill: "#555"
        )
        svg.rect(width - 250, 52, 12, 12, fill: BenchColors.blue)
        svg.text(width - 233, 62, "cache on", size: 12)
        svg.rect(width - 160, 52, 12, 12, fill: BenchColors.orange)
        svg.text(width - 143, 62, "cache off", size: 12)
        for (index, clients) in clientCounts.enumerated() {
            let on = r.latency(cache: true, clients: clients)
            let off = r.latency(cache: false, clients: clients)
            let top = 80 + Double(index) * (panelHeight + 50)
            var maxValue = 0.0
            for (op, tier) in groups {
                maxValue = max(maxValue, value(on, op, tier) ?? 0, value(off, op, tier) ?? 0)
            }
            let area = PlotArea(
                x: 90,
                y: top + 20,
                width: width - 120,
                height: panelHeight - 60,
                yMin: 0,
                yMax: PlotArea.niceMax(maxValue),
                logY: false
            )
            svg.text(90, top + 8, "\(clients) client\(clients == 1 ? "" : "s")", size: 13, bold: true)
            area.drawGrid(&svg, label: "mean", format: formatMicros)
            let groupWidth = area.width / Double(groups.count)
            for (g, (op, tier)) in groups.enumerated() {
                let gx = area.x + Double(g) * groupWidth
                let barWidth = groupWidth * 0.36
                for (k, (config, color)) in [(on, BenchColors.blue), (off, BenchColors.orange)].enumerated() {
                    guard let v = value(config, op, tier) else { continue }
                    let bx = gx + groupWidth * 0.12 + Double(k) * barWidth
                    let by = area.yPos(v)
                    svg.rect(
                        bx,
                        by,
                        barWidth - 2,
                        area.y + area.height - by,
                        fill: color,
                        title: "\(op.rawValue) at \(tier), cache \(k == 0 ? "on" : "off"): \(Int(v)) µs"
                    )
                    svg.text(bx + barWidth / 2 - 1, by - 3, formatShort(v), size: 9, anchor: "middle", fill: "#333")
                }
                svg.text(gx + groupWidth / 2, area.y + area.height + 14, tier, size: 11, anchor: "middle")
                if tier == "client" {
                    svg.text(gx + 4, area.y + area.height + 30, "\(op.rawValue)()", size: 12, bold: true)
                    if g > 0 { svg.line(gx, area.y, gx, area.y + area.height + 32, stroke: "#bbb", dash: "3,3") }
                }
            }
        }
        return svg.render()
    }

    static func formatShort(_ micros: Double) -> String {
        micros >= 1000 ? String(format: "%.2f ms", micros / 1000) : String(format: "%.0f µs", micros)
    }

    // MARK: Percentiles versus clients

    static func versusClients(_ r: BenchResults) -> String? {
        let clientCounts = Array(Set(r.latency.map(\.clients))).sorted()
        guard !clientCounts.isEmpty else { return nil }
        let caches = [true, false].filter { c in r.latency.contains { $0.cache == c } }
        let panelWidth = 440.0
        let width = 90 + Double(caches.count) * (panelWidth + 40)
        let height = 430.0
        var svg = SVG(width: width, height: height)
        svg.text(
            width / 2,
            24,
            "Client-side latency versus concurrent clients (experiment 1)",
            size: 16,
            anchor: "middle",
            bold: true
        )
        var lo = Double.infinity
        var hi = 0.0
        for config in r.latency {
            for row in config.rows {
                lo = min(lo, Double(row.client.p50Micros))
                hi = max(hi, Double(row.client.p99Micros))
            }
        }
        guard hi > 0 else { return nil }
        let yMin = pow(10, floor(log10(max(1, lo))))
        let yMax = pow(10, ceil(log10(hi)))
        for (panel, cache) in caches.enumerated() {
            let area = PlotArea(
                x: 90 + Double(panel) * (panelWidth + 40),
                y: 60,
                width: panelWidth - 20,
                height: 290,
                yMin: yMin,
                yMax: yMax,
                logY: true
            )
            svg.text(
                area.x + area.width / 2,
                50,
                "cache \(cache ? "on" : "off")",
                size: 13,
                anchor: "middle",
                bold: true
            )
            area.drawGrid(&svg, label: "latency (log scale)", format: formatMicros)
            func xPos(_ i: Int) -> Double {
                clientCounts.count == 1
                    ? area.x + area.width / 2
                    : area.x + 30 + Double(i) * (area.width - 60) / Double(clientCounts.count - 1)
            }
            for (i, c) in clientCounts.enumerated() {
                svg.text(xPos(i), area.y + area.height + 16, "\(c)", size: 11, anchor: "middle")
            }
            svg.text(
                area.x + area.width / 2,
                area.y + area.height + 34,
                "concurrent clients",
                size: 12,
                anchor: "middle"
            )
            for op in BenchOp.allCases {
                let color = BenchColors.ops[op]!
                for (pct, dash) in [("p50", nil as String?), ("p99", "6,4")] {
                    var points: [(Double, Double)] = []
                    for (i, c) in clientCounts.enumerated() {
                        guard let row = r.latency(cache: cache, clients: c)?.row(op) else { continue }
                        let v = Double(pct == "p50" ? row.client.p50Micros : row.client.p99Micros)
                        points.append((xPos(i), area.yPos(v)))
                        svg.circle(
                            xPos(i),
                            area.yPos(v),
                            r: 3,
                            fill: color,
                            title: "\(op.rawValue) \(pct), \(c) clients: \(Int(v)) µs"
                        )
                    }
                    svg.polyline(points, stroke: color, width: 2, dash: dash)
                }
            }
        }
        // Legend.
        var lx = 90.0
        let ly = height - 30
        for op in BenchOp.allCases {
            svg.line(lx, ly, lx + 24, ly, stroke: BenchColors.ops[op]!, width: 2)
            svg.text(lx + 28, ly + 4, op.rawValue, size: 12)
            lx += 90
        }
        svg.line(lx, ly, lx + 24, ly, stroke: "#333", width: 2)
        svg.text(lx + 28, ly + 4, "p50", size: 12)
        lx += 70
        svg.line(lx, ly, lx + 24, ly, stroke: "#333", width: 2, dash: "6,4")
        svg.text(lx + 28, ly + 4, "p99", size: 12)
        return svg.render()
    }

    // MARK: Hit versus miss

    static func hitMiss(_ r: BenchResults) -> String? {
        guard let hm = r.hitMiss else { return nil }
        var series: [(String, LatencyStats, String, String?)] = [
            ("lookup hit", hm.lookupHit, BenchColors.green, nil),
            ("lookup miss (after a buy)", hm.lookupMiss, BenchColors.green, "6,4"),
            ("search hit", hm.searchHit, BenchColors.blue, nil),
            ("search miss (after a buy)", hm.searchMiss, BenchColors.blue, "6,4"),
        ]
        if let echo = r.echo {
            series.append(("echo, bare TCP socket", echo.rawSocket, BenchColors.gray, "2,3"))
            series.append(("echo, Pygmy RPC", echo.pygmyRPC, BenchColors.brown, "2,3"))
        }
        let width = 900.0
        let height = 460.0
        var svg = SVG(width: width, height: height)
        svg.title("Cache hit versus the miss right after a buy (experiment 2), with the loopback echo floors")
        var lo = Double.infinity
        var hi = 0.0
        for (_, s, _, _) in series {
            for point in s.distribution ?? [] where point[0] <= 99.9 {
                lo = min(lo, point[1])
                hi = max(hi, point[1])
            }
        }
        guard hi > 0 else { return nil }
        let area = PlotArea(
            x: 90,
            y: 50,
            width: 560,
            height: 340,
            yMin: pow(10, floor(log10(max(1, lo)))),
            yMax: pow(10, ceil(log10(hi))),
            logY: true
        )
        area.drawGrid(&svg, label: "latency (log scale)", format: formatMicros)
        // x: -log10(1 - p), so 90% → 1, 99% → 2, 99.9% → 3.
        let xMax = 3.0
        func xPos(_ p: Double) -> Double { area.x + min(xMax, -log10(max(1e-9, 1 - p / 100))) / xMax * area.width }
        for (p, label) in [(0.0, "0%"), (50.0, "50%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%")] {
            svg.line(xPos(p), area.y, xPos(p), area.y + area.height, stroke: "#eee")
            svg.text(xPos(p), area.y + area.height + 16, label, size: 11, anchor: "middle")
        }
        svg.text(area.x + area.width / 2, area.y + area.height + 34, "percentile", size: 12, anchor: "middle")
        for (name, stats, color, dash) in series {
            let points = (stats.distribution ?? []).filter { $0[0] <= 99.9 }.map { (xPos($0[0]), area.yPos($0[1])) }
            svg.polyline(points, stroke: color, width: 2, dash: dash)
            _ = name
        }
        var ly = 70.0
        for (name, stats, color, dash) in series {
            svg.line(670, ly, 700, ly, stroke: color, width: 2, dash: dash)
            svg.text(706, ly + 4, name, size: 12)
            svg.text(
                706,
                ly + 18,
                "p50 \(formatShort(Double(stats.p50Micros))), p99 \(formatShort(Double(stats.p99Micros)))",
                size: 11,
                fill: "#555"
            )
            ly += 40
        }
        return svg.render()
    }

    // MARK: Throughput

    static func throughput(_ r: BenchResults) -> String? {
        let counts = Array(Set(r.throughput.filter { $0.workload != "mix" }.map(\.clients))).sorted()
        guard !counts.isEmpty else { return nil }
        let mix = r.throughput.first { $0.workload == "mix" }
        let width = 900.0
        let height = 420.0
        var svg = SVG(width: width, height: height)
        svg.text(
            width / 2,
            24,
            "Requests per second, closed-loop clients (experiment 4)",
            size: 16,
            anchor: "middle",
            bold: true
        )
        let maxValue = max(
            r.throughput.map(\.requestsPerSecond).max() ?? 0,
            BenchTargets.lookupsPerSecond
        )
        let area = PlotArea(
            x: 90,
            y: 50,
            width: 620,
            height: 300,
            yMin: 0,
            yMax: PlotArea.niceMax(maxValue),
            logY: false
        )
        area.drawGrid(&svg, label: "requests per second") { String(format: "%g", $0) }
        let groups = counts.count + (mix == nil ? 0 : 1)
        let groupWidth = area.width / Double(groups)
        for (g, c) in counts.enumerated() {
            let gx = area.x + Double(g) * groupWidth
            for (k, (workload, color)) in [("lookup", BenchColors.green), ("buy", BenchColors.red)].enumerated() {
                guard let run = r.throughput(workload, clients: c) else { continue }
                let bw = groupWidth * 0.35
                let bx = gx + groupWidth * 0.15 + Double(k) * bw
                let by = area.yPos(run.requestsPerSecond)
                svg.rect(
                    bx,
                    by,
                    bw - 3,
                    area.y + area.height - by,
                    fill: color,
                    title: "\(workload)s, \(c) clients: \(Int(run.requestsPerSecond))/s"
                )
                svg.text(bx + bw / 2, by - 4, String(format: "%.0f", run.requestsPerSecond), size: 10, anchor: "middle")
            }
            svg.text(
                gx + groupWidth / 2,
                area.y + area.height + 16,
                "\(c) client\(c == 1 ? "" : "s")",
                size: 11,
                anchor: "middle"
            )
        }
        if let mix {
            let gx = area.x + Double(counts.count) * groupWidth
            let bw = groupWidth * 0.35
            let bx = gx + groupWidth / 2 - bw / 2
            let by = area.yPos(mix.requestsPerSecond)
            svg.rect(
                bx,
                by,
                bw,
                area.y + area.height - by,
                fill: BenchColors.purple,
                title: "mix: \(Int(mix.requestsPerSecond))/s"
            )
            svg.text(bx + bw / 2, by - 4, String(format: "%.0f", mix.requestsPerSecond), size: 10, anchor: "middle")
            svg.text(
                gx + groupWidth / 2,
                area.y + area.height + 16,
                "mix, \(mix.clients) clients",
                size: 11,
                anchor: "middle"
            )
        }
        for (value, color, label) in [
            (BenchTargets.lookupsPerSecond, BenchColors.green, "target: lookups/s at 10 clients"),
            (BenchTargets.mixedPerSecond, BenchColors.purple, "target: mixed req/s at 10 clients"),
            (BenchTargets.buysPerSecond, BenchColors.red, "target: buys/s at 10 clients"),
        ] {
            let py = area.yPos(value)
            svg.line(area.x, py, area.x + area.width, py, stroke: color, width: 1, dash: "5,4")
            _ = label
        }
        var ly = 70.0
        for (color, label, dash) in [
            (BenchColors.green, "lookups", nil as String?), (BenchColors.red, "buys", nil),
            (BenchColors.purple, "search/lookup/buy mix", nil),
            (BenchColors.green, "target 25,000 lookups/s", "5,4"), (BenchColors.purple, "target 12,000 mixed/s", "5,4"),
            (BenchColors.red, "target 2,000 buys/s", "5,4"),
        ] {
            if dash == nil {
                svg.rect(730, ly - 9, 12, 12, fill: color)
            } else {
                svg.line(728, ly - 3, 746, ly - 3, stroke: color, dash: dash)
            }
            svg.text(752, ly + 1, label, size: 12)
            ly += 22
        }
        return svg.render()
    }

    // MARK: Failover timeline

    static func failover(_ r: BenchResults) -> String? {
        guard var f = r.failover, f.timeline.count > 1 else { return nil }
        f.timeline.removeLast()  // cut short when the run stopped
        let width = 980.0
        let height = 560.0
        var svg = SVG(width: width, height: height)
        svg.title(
            "Failover: \(f.clients) clients doing search/lookup/buy while replicas are killed (SIGKILL) and restarted"
        )
        let bucketSeconds = Double(f.bucketMillis) / 1000
        let tMax = (f.timeline.last?.startSeconds ?? 0) + bucketSeconds
        let rates = f.timeline.map { Double($0.completed) / bucketSeconds }
        let top = PlotArea(
            x: 90,
            y: 50,
            width: width - 130,
            height: 190,
            yMin: 0,
            yMax: PlotArea.niceMax(rates.max() ?? 1),
            logY: false
        )
        func xPos(_ t: Double) -> Double { top.x + t / tMax * top.width }
        top.drawGrid(&svg, label: "completed req/s") { String(format: "%g", $0) }
        svg.polyline(
            f.timeline.map {
                (xPos($0.startSeconds + bucketSeconds / 2), top.yPos(Double($0.completed) / bucketSeconds))
            },
            stroke: BenchColors.blue,
            width: 1.5
        )
        for b in f.timeline where b.errors > 0 {
            svg.rect(
                xPos(b.startSeconds),
                top.y + top.height - 10,
                max(2, xPos(bucketSeconds) - top.x),
                10,
                fill: BenchColors.red,
                title: "\(b.errors) errors"
            )
        }
        let maxLatency = Double(f.timeline.map(\.maxMicros).max() ?? 1)
        let minMean = f.timeline.filter { $0.completed > 0 }.map(\.meanMicros).min() ?? 10
        let bottom = PlotArea(
            x: 90,
            y: 290,
            width: width - 130,
            height: 200,
            yMin: pow(10, floor(log10(max(1, minMean)))),
            yMax: pow(10, ceil(log10(max(10, maxLatency)))),
            logY: true
        )
        bottom.drawGrid(&svg, label: "latency (log scale)", format: formatMicros)
        let served = f.timeline.filter { $0.completed > 0 }
        svg.polyline(
            served.map { (xPos($0.startSeconds + bucketSeconds / 2), bottom.yPos($0.meanMicros)) },
            stroke: BenchColors.green,
            width: 1.5
        )
        svg.polyline(
            served.map { (xPos($0.startSeconds + bucketSeconds / 2), bottom.yPos(Double($0.maxMicros))) },
            stroke: BenchColors.red,
            width: 1.2
        )
        let step = PlotArea.niceStep(tMax / 10)
        var t = 0.0
        while t <= tMax {
            svg.text(xPos(t), bottom.y + bottom.height + 16, String(format: "%g s", t), size: 11, anchor: "middle")
            t += step
        }
        for (i, event) in f.events.enumerated() {
            let x = xPos(event.atSeconds)
            svg.line(x, top.y, x, bottom.y + bottom.height, stroke: "#555", dash: "3,3")
            svg.text(x + 3, top.y + 12 + Double(i % 4) * 13, event.what, size: 10, fill: "#333")
        }
        let ly = height - 28
        svg.line(90, ly, 114, ly, stroke: BenchColors.blue, width: 2)
        svg.text(118, ly + 4, "completed requests per second (\(f.bucketMillis) ms buckets)", size: 12)
        svg.line(430, ly, 454, ly, stroke: BenchColors.green, width: 2)
        svg.text(458, ly + 4, "mean latency", size: 12)
        svg.line(560, ly, 584, ly, stroke: BenchColors.red, width: 2)
        svg.text(588, ly + 4, "max latency (by completion time)", size: 12)
        svg.rect(800, ly - 8, 12, 10, fill: BenchColors.red)
        svg.text(816, ly + 2, "errors", size: 12)
        return svg.render()
    }
}
