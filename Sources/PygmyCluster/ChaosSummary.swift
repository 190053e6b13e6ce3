import Foundation
import PygmyBookstore

/// The result of a chaos run: printed as text, or as one JSON object with `--json`.
public struct ChaosSummary: Codable, Sendable {
    struct Buys: Codable, Sendable {
        var attempted = 0
        var acknowledged = 0
        var rejected = 0
        var rejectedOutOfStock = 0
        var rejectedUnknownItem = 0
        var unknown = 0
        /// Never sent: no connection to the frontend (counted in `attempted`, not in the other counts).
        var notSent = 0
        /// Unknown outcomes after the end-of-run retry and the final state: in the log or not.
        var unknownOrdered = 0
        var unknownNotOrdered = 0
        /// Unknown outcomes whose retry was still not definite.
        var unknownRetryStillUnknown = 0
        var unknownReasons: [String: Int] = [:]
    }

    struct Stats: Codable, Sendable {
        var count: Int
        var minSeconds: Double
        var medianSeconds: Double
        var p90Seconds: Double
        var maxSeconds: Double
        var meanSeconds: Double

        init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            func at(_ p: Double) -> Double {
                sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
            }
            count = sorted.count
            minSeconds = sorted[0]
            medianSeconds = at(0.5)
            p90Seconds = at(0.9)
            maxSeconds = sorted[sorted.count - 1]
            meanSeconds = sorted.reduce(0, +) / Double(sorted.count)
        }

        var text: String {
            String(
                format: "min %.2f s, median %.2f s, p90 %.2f s, max %.2f s (n=%d)",
                minSeconds,
                medianSeconds,
                p90Seconds,
                maxSeconds,
                count
            )
        }
    }

    struct Faults: Codable, Sendable {
        var injected = 0
        var byNode: [String: Int] = [:]
        /// Kill → the restarted process reports `ready`.
        var recovery: Stats?
        /// Restart → `ready`.
        var resync: Stats?
        var events: [ChaosFault] = []
    }

    var seed: UInt64
    var durationSeconds: Double
    var runSeconds: Double
    var clients: Int
    var buys = Buys()
    var lookupsOk = 0
    var lookupsFailed = 0
    var restocksIssued = 0
    var restocksConfirmed = 0
    var faults = Faults()
    var ordersInLog = 0
    var rejectionsInLog = 0
    var probes = 0
    var stockSamples = 0
    var finalStock: [String: [ItemStock]] = [:]
    var anomalies: [String]
    /// Invariant violations found (the run fails if any).
    public var anomalyCount: Int
    var notes: [String]
    var clusterDirectory: String

    init(
        configuration: ChaosConfiguration,
        runSeconds: Double,
        ledger: ChaosLedger,
        retries: [ChaosResend],
        probes: [ChaosResend],
        state: ChaosClusterState,
        anomalies: [String],
        directory: String
    ) {
        seed = configuration.seed
        durationSeconds = configuration.duration
        self.runSeconds = runSeconds
        clients = configuration.clients
        let all = ledger.buys
        let logged = Set(state.log.map(\.requestId))
        let retried = Dictionary(retries.map { ($0.buy.requestId, $0.outcome) }, uniquingKeysWith: { a, _ in a })
        buys.attempted = all.count
        for buy in all {
            switch buy.outcome {
            case .acknowledged: buys.acknowledged += 1
            case .refused(let code):
                buys.rejected += 1
                if code == .outOfStock { buys.rejectedOutOfStock += 1 }
                if code == .unknownItem { buys.rejectedUnknownItem += 1 }
            case .notSent:
                buys.notSent += 1
            case .unknown(let reason):
                buys.unknown += 1
                buys.unknownReasons[reason, default: 0] += 1
                if logged.contains(buy.requestId) { buys.unknownOrdered += 1 } else { buys.unknownNotOrdered += 1 }
                if retried[buy.requestId]?.isUnknown ?? true { buys.unknownRetryStillUnknown += 1 }
            }
        }
        (lookupsOk, lookupsFailed) = ledger.lookups
        restocksIssued = ledger.restocks.count
        restocksConfirmed = ledger.restocks.filter(\.confirmed).count
        faults.events = ledger.faults
        faults.injected = faults.events.count
        for event in faults.events { faults.byNode[event.node, default: 0] += 1 }
        faults.recovery = Stats(faults.events.compactMap(\.recoverySeconds))
        faults.resync = Stats(faults.events.compactMap(\.resyncSeconds))
        ordersInLog = state.log.count
        rejectionsInLog = state.logs[ChaosClusterState.orderReplicas[0]]?.rejections.count ?? 0
        self.probes = probes.count
        stockSamples = ledger.sampleCount
        for (name, status) in state.health { finalStock[name] = status.stock ?? [] }
        self.anomalies = anomalies
        anomalyCount = anomalies.count
        notes = ledger.observations
        for (name, seen) in ledger.negativeWhileNotServing.sorted(by: { $0.key < $1.key }) {
            notes.append(
                "\(name) reported negative stock on hand (lowest \(seen.lowest)) in \(seen.count) samples while joining "
                    + "(not serving; commits can arrive before the restocks it missed while down)"
            )
        }
        clusterDirectory = directory
    }

    /// The summary for people, several lines.
    public var text: String {
        var lines: [String] = []
        lines.append("")
        lines.append(
            String(
                format: "Chaos summary (seed %llu, %d clients, %.0f s of chaos, %.1f s in all)",
                seed,
                clients,
                durationSeconds,
                runSeconds
            )
        )
        lines.append(
            "  buys: attempted \(buys.attempted), acknowledged \(buys.acknowledged), rejected \(buys.rejected) "
                + "(outOfStock \(buys.rejectedOutOfStock), unknownItem \(buys.rejectedUnknownItem)), unknown \(buys.unknown)"
                + (buys.notSent > 0 ? ", not sent (frontend unreachable) \(buys.notSent)" : "")
        )
        if buys.unknown > 0 {
            let reasons = buys.unknownReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append(
                "  unknown outcomes: \(reasons.joined(separator: ", ")); resolved to \(buys.unknownOrdered) ordered, "
                    + "\(buys.unknownNotOrdered) not ordered (retry still unknown: \(buys.unknownRetryStillUnknown))"
            )
        }
        lines.append("  lookups: \(lookupsOk) answered, \(lookupsFailed) failed")
        lines.append("  restocks: \(restocksIssued) issued, \(restocksConfirmed) confirmed")
        let byNode = faults.byNode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append(
            "  faults injected: \(faults.injected)\(byNode.isEmpty ? "" : " (\(byNode.joined(separator: ", ")))")"
        )
        if let recovery = faults.recovery { lines.append("  recovery, kill → ready: \(recovery.text)") }
        if let resync = faults.resync { lines.append("  recovery, restart → ready: \(resync.text)") }
        lines.append(
            "  final state: \(ordersInLog) orders and \(rejectionsInLog) rejections in the order log; stock samples taken: \(stockSamples); idempotency probes: \(probes)"
        )
        for (name, stock) in finalStock.sorted(by: { $0.key < $1.key }) {
            lines.append(
                "  \(name): "
                    + stock.map { "item \($0.item) \($0.onHand) on hand, \($0.held) held" }.joined(separator: "; ")
            )
        }
        for note in notes { lines.append("  note: \(note)") }
        lines.append("anomalies: \(anomalyCount)")
        for anomaly in anomalies { lines.append("  ! \(anomaly)") }
        if anomalyCount > 0 { lines.append("cluster kept for inspection in \(clusterDirectory)") }
        return lines.joined(separator: "\n")
    }
}
