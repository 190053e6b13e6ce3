import Foundation

/// The issue's targets.
enum BenchTargets {
    static let hitOverEcho = 2.0
    static let missOverEcho = 4.0
    static let buyP50Millis = 1.5
    static let lookupsPerSecond = 25_000.0
    static let buysPerSecond = 2_000.0
    static let mixedPerSecond = 12_000.0
    static let throughputClients = 10

    /// Evaluates every target the results have data for. Ratios are against the bare TCP echo p50 (the
    /// floor); the detail also gives the ratio against the Pygmy RPC echo.
    static func evaluate(_ r: BenchResults) -> [TargetResult] {
        var out: [TargetResult] = []
        if let hm = r.hitMiss, let echo = r.echo {
            let floor = Double(echo.rawSocket.p50Micros)
            let rpc = Double(echo.pygmyRPC.p50Micros)
            for (name, stats, limit) in [
                ("cache-hit lookup p50 / echo p50", hm.lookupHit, hitOverEcho),
                ("cache-hit search p50 / echo p50", hm.searchHit, hitOverEcho),
                ("cache-miss lookup p50 / echo p50", hm.lookupMiss, missOverEcho),
                ("cache-miss search p50 / echo p50", hm.searchMiss, missOverEcho),
            ] {
                let p50 = Double(stats.p50Micros)
                let ratio = p50 / max(1, floor)
                out.append(
                    TargetResult(
                        name: name,
                        value: ratio,
                        unit: "x",
                        comparison: "<=",
                        target: limit,
                        met: ratio <= limit,
                        detail: String(
                            format: "%.0f µs vs bare TCP echo %.0f µs; %.2fx the Pygmy RPC echo (%.0f µs)",
                            p50,
                            floor,
                            p50 / max(1, rpc),
                            rpc
                        )
                    )
                )
            }
        }
        let buyConfig =
            r.latency.filter { $0.cache }.min { $0.clients < $1.clients } ?? r.latency.min { $0.clients < $1.clients }
        if let config = buyConfig, let buy = config.row(.buy) {
            let ms = Double(buy.client.p50Micros) / 1000
            out.append(
                TargetResult(
                    name: "buy p50 at the client, \(config.clients) client\(config.clients == 1 ? "" : "s")",
                    value: ms,
                    unit: "ms",
                    comparison: "<",
                    target: buyP50Millis,
                    met: ms < buyP50Millis,
                    detail: String(
                        format: "mean %.2f ms, p99 %.2f ms",
                        buy.client.meanMicros / 1000,
                        Double(buy.client.p99Micros) / 1000
                    )
                )
            )
        }
        for (workload, name, limit) in [
            ("lookup", "lookups/s at 10 clients", lookupsPerSecond),
            ("buy", "buys/s at 10 clients", buysPerSecond),
            ("mix", "mixed search/lookup/buy req/s at 10 clients", mixedPerSecond),
        ] {
            guard let run = r.throughput(workload, clients: throughputClients) else { continue }
            out.append(
                TargetResult(
                    name: name,
                    value: run.requestsPerSecond,
                    unit: "/s",
                    comparison: ">=",
                    target: limit,
                    met: run.requestsPerSecond >= limit,
                    detail: String(
                        format: "p50 %.0f µs, p99 %.0f µs, %d errors",
                        Double(run.latency.p50Micros),
                        Double(run.latency.p99Micros),
                        run.errors.values.reduce(0, +)
                    )
                )
            )
        }
        return out
    }
}
