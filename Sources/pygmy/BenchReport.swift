import Foundation
import PygmyCluster

/// The terminal report, in the original report's layout where it has one.
enum BenchReport {
    static func ms(_ micros: Double) -> String { String(format: "%.3f", micros / 1000) }

    static func cell(_ mean: Double, _ p50: Int, _ p99: Int, exact: Bool = true) -> String {
        ("\(ms(mean)) / \(ms(Double(p50))) / \(ms(Double(p99)))" + (exact ? "" : "*")).padding(25)
    }

    static func latencyTable(_ c: LatencyConfig) -> String {
        var lines: [String] = []
        let title =
            "\(c.clients) client\(c.clients == 1 ? "" : "s") \(c.cache ? "with" : "without") cache — \(c.requestsPerClientPerOperation) sequential requests per operation per client, \(String(format: "%.1f", c.elapsedSeconds)) s"
        lines.append(title)
        lines.append("Response time in ms: mean / p50 / p99")
        lines.append(
            "Function  " + ["Client", "Frontend", "Catalog", "Order"].map { $0.padding(25) }.joined(separator: " ")
        )
        for row in c.rows {
            let name = row.operation.rawValue.prefix(1).uppercased() + row.operation.rawValue.dropFirst() + "()"
            var cells = [cell(row.client.meanMicros, row.client.p50Micros, row.client.p99Micros)]
            for tier in [row.frontend, row.catalog, row.order] {
                if let t = tier, t.count > 0 {
                    cells.append(cell(t.meanMicros, t.p50Micros, t.p99Micros, exact: t.percentilesExact))
                } else {
                    cells.append("-".padding(25))
                }
            }
            lines.append(name.padding(10) + cells.joined(separator: " "))
        }
        var footer: [String] = []
        if let hits = c.cacheHits, let misses = c.cacheMisses, hits + misses > 0 {
            footer.append(
                String(
                    format: "cache %d hits, %d misses (%.1f%% hit rate)",
                    hits,
                    misses,
                    Double(hits) * 100 / Double(hits + misses)
                )
            )
        }
        let catalogCounts = c.rows.compactMap { row in row.catalog.map { "\(row.operation.rawValue) \($0.count)" } }
        if !catalogCounts.isEmpty {
            footer.append("calls reaching a catalog replica: " + catalogCounts.joined(separator: ", "))
        }
        if c.rows.contains(where: { [$0.frontend, $0.catalog, $0.order].contains { $0?.percentilesExact == false } }) {
            footer.append("* p50/p99 include requests from before this run (the nodes' histograms are cumulative)")
        }
        footer.append(
            "client errors: "
                + (c.errors.isEmpty
                    ? "none"
                    : c.errors.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        )
        lines.append(footer.joined(separator: "; "))
        return lines.joined(separator: "\n")
    }

    static func originalComparison(_ r: BenchResults) -> String? {
        let on = r.latency.filter(\.cache).min { $0.clients < $1.clients }
        let off = r.latency.filter { !$0.cache }.min { $0.clients < $1.clients }
        guard on != nil || off != nil else { return nil }
        var lines = [
            "Beside the original report (mean at the client, ms, \((on ?? off)!.clients) client):",
            "Function  "
                + [
                    "Lab 3 cache", "Lab 3 no cache", "Flask (issue)", "Pygmy cache", "Pygmy no cache",
                    "faster than Lab 3",
                ].map { $0.padding(16) }.joined(separator: " "),
        ]
        let flask: [BenchOp: String] = [
            .search: "2.6", .lookup: "0.79 hit/2.7 miss", .buy: "17",
        ]
        for op in BenchOp.allCases {
            let ours = on?.row(op)?.client.meanMicros
            let oursOff = off?.row(op)?.client.meanMicros
            let speedup = ours.map { String(format: "%.0fx", OriginalReport.client1Cached[op]! * 1000 / $0) } ?? "-"
            let cells = [
                String(format: "%.1f", OriginalReport.client1Cached[op]!),
                String(format: "%.1f", OriginalReport.client1Uncached[op]!),
                flask[op]!,
                ours.map { ms($0) } ?? "-",
                oursOff.map { ms($0) } ?? "-",
                speedup,
            ]
            lines.append(
                (op.rawValue.prefix(1).uppercased() + op.rawValue.dropFirst() + "()").padding(10)
                    + cells.map { $0.padding(16) }.joined(separator: " ")
            )
        }
        lines.append(String(format: "The Flask store served about %.0f req/s.", OriginalReport.flaskRequestsPerSecond))
        return lines.joined(separator: "\n")
    }

    static func statsLine(_ name: String, _ s: LatencyStats, floor: Double?) -> String {
        var cells = [
            String(format: "%.1f", s.meanMicros), "\(s.p50Micros)", "\(s.p90Micros)", "\(s.p99Micros)",
            "\(s.p999Micros)",
            "\(s.maxMicros)", "\(s.count)",
        ]
        if let floor { cells.append(String(format: "%.2fx", Double(s.p50Micros) / max(1, floor))) }
        return name.padding(26) + cells.map { $0.leftPadding(9) }.joined(separator: " ")
    }

    static func statsHeader(floor: Bool) -> String {
        "".padding(26)
            + (["mean", "p50", "p90", "p99", "p99.9", "max", "count"] + (floor ? ["p50/echo"] : [])).map {
                $0.leftPadding(9)
            }.joined(separator: " ")
    }

    static func hitMiss(_ hm: HitMissResults, echo: EchoResults?) -> String {
        let floor = echo.map { Double($0.rawSocket.p50Micros) }
        var lines = [
            "Experiment 2 — cache hit, then the miss right after a buy of the same item (\(hm.iterations) times), µs",
            statsHeader(floor: floor != nil),
            statsLine("lookup, hit", hm.lookupHit, floor: floor),
            statsLine("lookup, miss after buy", hm.lookupMiss, floor: floor),
            statsLine("search, hit", hm.searchHit, floor: floor),
            statsLine("search, miss after buy", hm.searchMiss, floor: floor),
            statsLine("buy (in between)", hm.buy, floor: floor),
        ]
        if let echo {
            lines.append(statsLine("echo, bare TCP socket", echo.rawSocket, floor: floor))
            lines.append(statsLine("echo, Pygmy RPC", echo.pygmyRPC, floor: floor))
        }
        if let hits = hm.frontendHits, let misses = hm.frontendMisses {
            let ok = hits == 2 * hm.iterations && misses == 2 * hm.iterations
            lines.append(
                "the frontend counted \(hits) hits and \(misses) misses (expected \(2 * hm.iterations) of each: \(ok ? "every request was what it is labelled" : "some requests were not what they are labelled"))"
            )
        }
        lines.append(
            String(
                format:
                    "miss/hit p50: lookup %.1fx, search %.1fx. Original report: %.1f ms hit, %.2f ms miss (%.1fx); Flask: %.2f ms hit, %.1f ms miss.",
                Double(hm.lookupMiss.p50Micros) / Double(max(1, hm.lookupHit.p50Micros)),
                Double(hm.searchMiss.p50Micros) / Double(max(1, hm.searchHit.p50Micros)),
                OriginalReport.reportHitMillis,
                OriginalReport.reportMissMillis,
                OriginalReport.reportMissMillis / OriginalReport.reportHitMillis,
                OriginalReport.flaskLookupHitMillis,
                OriginalReport.flaskLookupMissMillis
            )
        )
        if !hm.errors.isEmpty { lines.append("errors: \(hm.errors)") }
        return lines.joined(separator: "\n")
    }

    static func echo(_ e: EchoResults) -> String {
        [
            "Loopback echo floors (32 bytes, server in another process), µs",
            statsHeader(floor: false),
            statsLine("bare TCP socket", e.rawSocket, floor: nil),
            statsLine("Pygmy RPC", e.pygmyRPC, floor: nil),
            String(
                format: "Pygmy RPC echo with %d clients: %.0f calls/s",
                e.throughputClients,
                e.pygmyRPCCallsPerSecond
            ),
        ].joined(separator: "\n")
    }

    static func failover(_ f: FailoverResults) -> String {
        var lines = [
            "Experiment 3 — failover: \(f.clients) clients doing search/lookup/buy in equal parts; a catalog and then an order replica killed (SIGKILL) and restarted",
            "phase".padding(24)
                + ["seconds", "requests", "req/s", "errors", "p50 µs", "p99 µs", "max µs"].map { $0.leftPadding(9) }
                .joined(separator: " "),
        ]
        for p in f.phases {
            let errors = p.errors.values.reduce(0, +)
            let cells = [
                String(format: "%.2f", p.seconds), "\(p.requests)",
                String(format: "%.0f", Double(p.requests) / max(0.001, p.seconds)),
                "\(errors)", "\(p.all.p50Micros)", "\(p.all.p99Micros)", "\(p.all.maxMicros)",
            ]
            lines.append(p.name.padding(24) + cells.map { $0.leftPadding(9) }.joined(separator: " "))
            if !p.errors.isEmpty {
                lines.append(
                    "".padding(24) + "errors: "
                        + p.errors.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
                )
            }
        }
        for r in f.recoveries {
            func t(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "never (timed out)" }
            lines.append(
                "\(r.node) restarted: answering after \(t(r.listeningMillis)), serving after \(t(r.servingMillis)), the frontend counts it up after \(t(r.frontendSeesUpMillis))"
            )
        }
        return lines.joined(separator: "\n")
    }

    static func throughput(_ runs: [ThroughputRun]) -> String {
        var lines = [
            "Experiment 4 — throughput, closed-loop clients (one request in flight each), fixed duration",
            "workload".padding(12)
                + ["clients", "seconds", "req/s", "p50 µs", "p99 µs", "errors"].map { $0.leftPadding(9) }.joined(
                    separator: " "
                ),
        ]
        for run in runs {
            let cells = [
                "\(run.clients)", String(format: "%.1f", run.seconds), String(format: "%.0f", run.requestsPerSecond),
                "\(run.latency.p50Micros)", "\(run.latency.p99Micros)", "\(run.errors.values.reduce(0, +))",
            ]
            lines.append(
                (run.workload == "mix" ? "mix (1:1:1)" : run.workload + "s").padding(12)
                    + cells.map { $0.leftPadding(9) }.joined(separator: " ")
            )
        }
        return lines.joined(separator: "\n")
    }

    static func targets(_ targets: [TargetResult]) -> String {
        var lines = ["Targets (ratios against the bare TCP echo p50)"]
        for t in targets {
            let value = t.unit == "/s" ? String(format: "%.0f", t.value) : String(format: "%.2f", t.value)
            let target = t.unit == "/s" ? String(format: "%.0f", t.target) : String(format: "%g", t.target)
            lines.append(
                "  " + t.name.padding(46) + "\(value)\(t.unit == "x" ? "x" : " " + t.unit)".leftPadding(10)
                    + "   target \(t.comparison) \(target)\(t.unit == "x" ? "x" : " " + t.unit)".padding(26)
                    + (t.met ? "met" : "MISSED")
                    + "   (\(t.detail))"
            )
        }
        return lines.joined(separator: "\n")
    }

    static func render(_ r: BenchResults) -> String {
        var sections: [String] = []
        sections.append(
            String(
                format: "pygmy bench — %@, %d CPUs, %@ build, load average %.2f at the start%@",
                r.date,
                r.machine.cpus,
                r.machine.build,
                r.machine.loadAverageStart,
                r.quick ? ", --quick" : ""
            ) + "\ncluster: \(r.cluster)"
        )
        if !r.latency.isEmpty {
            sections.append("Experiment 1 — response time per operation and tier")
            for c in r.latency { sections.append(latencyTable(c)) }
            sections.append(
                "Tiers are measured by the nodes themselves; the catalog column of buy is the hold phase, and search and lookup reach the catalog only on a cache miss. For two replicas the percentiles are the higher of the two."
            )
            if let comparison = originalComparison(r) { sections.append(comparison) }
        }
        if let e = r.echo { sections.append(echo(e)) }
        if let hm = r.hitMiss { sections.append(hitMiss(hm, echo: r.echo)) }
        if let f = r.failover { sections.append(failover(f)) }
        if !r.throughput.isEmpty { sections.append(throughput(r.throughput)) }
        if let h = r.history, !h.points.isEmpty { sections.append(history(h)) }
        if !r.targets.isEmpty { sections.append(targets(r.targets)) }
        for note in r.notes { sections.append("note: \(note)") }
        // Cells are padded to line up; drop the padding at the ends of lines.
        return sections.joined(separator: "\n\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in String(line.reversed().drop { $0 == " " }.reversed()) }
            .joined(separator: "\n")
    }
}

extension String {
    func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
