import ArgumentParser
import Dispatch
import Foundation
import PygmyCluster
import PygmyNodes

struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Crash replicas while clients buy, then check every invariant.",
        discussion: """
            Starts a local cluster of real `pygmy node` processes. Concurrent clients buy and look up random \
            books for --duration seconds while a fault loop SIGKILLs a random catalog or order replica, \
            restarts it after a random pause and repeats (never both replicas of one kind at once unless \
            --allow-double-faults); periodic restocks keep stock available. Every buy's outcome is recorded: \
            acknowledged, refused (outOfStock / unknownItem) or unknown (timeout, transport error, unavailable).

            At the end the faults stop, every node is made to run, the replicas are given time to converge, \
            every unknown buy is re-sent once with its request id, and the durable state of each replica \
            (order logs, catalog stock and committed buys) is checked: acknowledged buys are in the log, no \
            request id twice, refusals are not, both order logs are identical, stock on both catalog replicas \
            is seed + restocks − ordered with nothing held and nothing negative. Stock is also sampled during \
            the run. Exits 1 if any anomaly is found (the cluster directory is then kept).

            Randomness is seeded (--seed, printed): a replay repeats every client's and the fault loop's \
            choices, though not the exact timing. See docs/CHAOS.md.
            """
    )

    @Option(name: .long, help: "Seconds of chaos (clients and faults).")
    var duration = 60

    @Option(name: .long, help: "Concurrent clients.")
    var clients = 10

    @Option(name: .long, help: "Random seed (default: a random one, printed).")
    var seed: UInt64?

    @Option(name: .long, help: "First of five consecutive ports.")
    var basePort = 7300

    @Option(name: .long, help: "Directory for the cluster (default: a fresh temporary directory).")
    var dir: String?

    @Flag(name: .long, help: "Keep the cluster directory (logs, databases) even when no anomaly is found.")
    var keep = false

    @Flag(name: .long, help: "Print one JSON object with the summary (progress goes to stderr).")
    var json = false

    @Flag(name: .long, help: "Mutual TLS on every connection.")
    var tls = false

    @Flag(name: .long, help: "Allow both replicas of one kind to be down at the same time.")
    var allowDoubleFaults = false

    @Flag(name: .long, help: "Crash the frontend too.")
    var killFrontend = false

    @Flag(name: .long, help: "Inject no faults (a baseline run of the same workload and checks).")
    var noFaults = false

    @Option(name: .long, help: "Shortest pause, in seconds, between a kill and the restart.")
    var minDown = 0.2

    @Option(name: .long, help: "Longest pause, in seconds, between a kill and the restart.")
    var maxDown = 3.0

    @Option(name: .long, help: "Shortest wait, in seconds, before the next kill.")
    var minGap = 0.3

    @Option(name: .long, help: "Longest wait, in seconds, before the next kill.")
    var maxGap = 2.0

    @Option(name: .long, help: "Fraction of client operations that are buys (the rest are lookups).")
    var buyRatio = 0.7

    @Option(name: .long, help: "Seconds between restock rounds.")
    var restockInterval = 0.25

    @Option(name: .long, help: "Each round restocks every item with fewer copies than this, by this many.")
    var restockCount = 25

    @Option(name: .long, help: "Client timeout per request, in seconds (a timeout is an unknown outcome).")
    var requestTimeout = 20.0

    @Option(name: .long, help: "Seconds a restarted node may take to report ready before it is an anomaly.")
    var recoveryTimeout = 30.0

    @Option(name: .long, help: "Seconds to wait for the replicas to converge at the end.")
    var settleTimeout = 30.0

    @Option(name: .long, help: "Definite outcomes re-sent at the end to check they answer the same.")
    var probes = 200

    func validate() throws {
        guard duration >= 1 else { throw ValidationError("--duration must be at least 1 second") }
        guard (1...200).contains(clients) else { throw ValidationError("--clients must be 1...200") }
        guard (1024...65530).contains(basePort) else { throw ValidationError("--base-port must be 1024...65530") }
        guard minDown >= 0, maxDown >= minDown else { throw ValidationError("need 0 <= --min-down <= --max-down") }
        guard minGap >= 0, maxGap >= minGap else { throw ValidationError("need 0 <= --min-gap <= --max-gap") }
        guard (0...1).contains(buyRatio) else { throw ValidationError("--buy-ratio must be between 0 and 1") }
        guard restockInterval > 0, restockCount > 0 else {
            throw ValidationError("--restock-interval and --restock-count must be positive")
        }
        guard requestTimeout > 0, recoveryTimeout > 0, settleTimeout > 0 else {
            throw ValidationError("timeouts must be positive")
        }
        guard probes >= 0 else { throw ValidationError("--probes must not be negative") }
    }

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let json = self.json
        let say: @Sendable (String) -> Void = { line in
            if json {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            } else {
                print(line)
                fflush(nil)
            }
        }
        var configuration = ChaosConfiguration(seed: seed, duration: Double(duration), clients: clients)
        configuration.buyRatio = buyRatio
        configuration.restockInterval = restockInterval
        configuration.restockCount = restockCount
        configuration.down = minDown...maxDown
        configuration.gap = minGap...maxGap
        configuration.faults = !noFaults
        configuration.allowDoubleFaults = allowDoubleFaults
        configuration.killFrontend = killFrontend
        configuration.requestTimeout = requestTimeout
        configuration.recoveryTimeout = recoveryTimeout
        configuration.settleTimeout = settleTimeout
        configuration.probes = probes

        var summary: ChaosSummary?
        try await reporting(json: json) { _ in
            let directory = dir ?? (NSTemporaryDirectory() + "pygmy-chaos-\(UUID().uuidString.prefix(8))")
            let cluster = try LocalCluster.create(directory: directory, basePort: basePort, tls: tls, cache: true)
            say(
                "pygmy chaos: seed \(seed), \(clients) clients, \(duration) s, cluster in \(directory)"
                    + (tls ? " (mutual TLS)" : "")
            )
            say("  replay with: pygmy chaos --seed \(seed) --duration \(duration) --clients \(clients)")
            Self.stopClusterOnSignal(cluster)
            for name in LocalCluster.nodeNames { try cluster.start(name) }
            let runner = ChaosRunner(
                cluster: cluster,
                configuration: configuration,
                ledger: ChaosLedger(printer: say),
                seeds: try cluster.topology().seedBooks()
            )
            do {
                summary = try await runner.run()
            } catch {
                await cluster.stopAll()
                say("cluster kept in \(directory)")
                throw error
            }
            await cluster.stopAll()
            if summary?.anomalyCount == 0 && !keep && dir == nil {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        guard let summary else { return }
        if json {
            print(Output.encode(summary))
        } else {
            print(summary.text)
        }
        if summary.anomalyCount > 0 { throw Exit.failure }
    }

    /// On SIGINT or SIGTERM, SIGKILL every node of the cluster (they run in their own process groups and
    /// would outlive this command) and exit.
    static func stopClusterOnSignal(_ cluster: LocalCluster) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                for name in LocalCluster.nodeNames { cluster.signal(name, SIGKILL) }
                FileHandle.standardError.write(
                    Data("pygmy chaos: interrupted; nodes killed, cluster in \(cluster.directory)\n".utf8)
                )
                Foundation.exit(130)
            }
            source.resume()
            SignalSources.keep(source)
        }
    }
}
