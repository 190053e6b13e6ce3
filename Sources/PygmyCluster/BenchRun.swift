import Foundation

/// One `pygmy bench` run: decides which clusters to use, runs the experiments in order, collects results.
public struct BenchRun: Sendable {
    let settings: BenchSettings
    let quick: Bool
    let keep: Bool
    let basePort: Int
    let clusterDirectory: String?
    let frontend: (host: String, port: Int)?
    let frontendTLS: BenchTLS?

    /// A run of the experiments `settings` names.
    /// - Parameters:
    ///   - quick: recorded in the results (the settings already hold the smaller counts).
    ///   - keep: keep the directories of the clusters the bench starts.
    ///   - basePort: the first port to try for those clusters (five per cluster).
    ///   - clusterDirectory: a running local cluster to measure instead of starting clusters.
    ///   - frontend: a running frontend to measure instead (no failover experiment then).
    ///   - frontendTLS: the certificates for `frontend` if its cluster uses TLS.
    public init(
        settings: BenchSettings,
        quick: Bool,
        keep: Bool,
        basePort: Int,
        clusterDirectory: String?,
        frontend: (host: String, port: Int)?,
        frontendTLS: BenchTLS? = nil
    ) {
        self.settings = settings
        self.quick = quick
        self.keep = keep
        self.basePort = basePort
        self.clusterDirectory = clusterDirectory
        self.frontend = frontend
        self.frontendTLS = frontendTLS
    }

    /// Runs every experiment in order (progress on stderr), stops what it started and returns the figures.
    public func run() async throws -> BenchResults {
        let started = ContinuousClock.now
        let existing = clusterDirectory != nil || frontend != nil
        let latencyConfigs: [(cache: Bool, clients: Int)] =
            settings.runs("latency")
            ? (existing
                ? settings.clients.map { (true, $0) }
                : [false, true].flatMap { c in settings.clients.map { (c, $0) } })
            : []
        let throughputRuns =
            settings.runs("throughput")
            ? (settings.throughputClients.flatMap { [("lookup", $0), ("buy", $0)] } + [("mix", settings.mixClients)])
                .filter { settings.workloads.contains($0.0) } : []
        let canFailover = settings.runs("failover") && frontend == nil
        // Two stages per history size: loading, then measuring.
        let historyStages = settings.runs("history") && !existing ? settings.historySizes.count * 2 : 0
        let stages =
            latencyConfigs.count + (settings.runs("echo") ? 1 : 0) + (settings.runs("hitmiss") ? 1 : 0)
            + throughputRuns.count + (canFailover ? 1 : 0) + historyStages
        let progress = BenchProgress(stages: stages)
        let redraw = progress.start()
        defer {
            progress.finish()
            redraw.cancel()
        }
        let experiments = BenchExperiments(settings: settings, progress: progress)
        var results = BenchResults(
            date: ISO8601DateFormatter().string(from: Date()),
            quick: quick,
            cluster: "",
            machine: MachineInfo(
                cpus: ProcessInfo.processInfo.activeProcessorCount,
                kernel: Self.kernel(),
                build: Self.build,
                loadAverageStart: Self.loadAverage(),
                loadAverageEnd: 0
            )
        )
        if Self.build != "release" {
            results.notes.append("this is a \(Self.build) build: measure a release build (swift build -c release)")
        }
        let parent = NSTemporaryDirectory() + "pygmy-bench-\(UUID().uuidString.prefix(8))"
        var nextPort = basePort
        var shared: BenchCluster?
        var current: BenchCluster?
        // Echo server first, so it is up before the clusters take the CPUs; measured later, with the
        // shared cluster idle.
        let echoServer = settings.runs("echo") || settings.runs("hitmiss") ? try BenchEcho.ServerProcess() : nil
        defer { echoServer?.stop() }

        func existingCluster() throws -> BenchCluster {
            if let dir = clusterDirectory { return try BenchCluster.existing(directory: dir) }
            let (host, port) = frontend!
            return try BenchCluster.existing(frontend: host, port: port, tls: frontendTLS)
        }

        do {
            // Experiment 1: a fresh cluster per configuration (with --quick, one per cache setting); the
            // last cache-on one stays up for the other experiments.
            for config in latencyConfigs {
                progress.stage(
                    "experiment 1: \(config.clients) client\(config.clients == 1 ? "" : "s"), cache \(config.cache ? "on" : "off")",
                    total: config.clients * settings.requests * 3
                )
                let cluster: BenchCluster
                if existing {
                    if shared == nil {
                        shared = try existingCluster()
                        try await shared!.restock(BenchExperiments.seeds(shared!).map(\.item))
                    }
                    cluster = shared!
                } else if quick, let reuse = current, reuse.cache == config.cache {
                    cluster = reuse
                } else {
                    await current?.stop()
                    current = nil
                    let (started, port) = try await BenchCluster.start(
                        cache: config.cache,
                        basePort: nextPort,
                        parent: parent
                    )
                    current = started
                    nextPort = port
                    cluster = started
                    try await cluster.restock(BenchExperiments.seeds(cluster).map(\.item))
                }
                results.cluster = cluster.description
                results.latency.append(try await experiments.latency(cluster, clients: config.clients))
            }
            if let last = current {
                if last.cache == true { shared = last } else { await last.stop() }
                current = nil
            }
            if shared == nil && stages - historyStages > latencyConfigs.count {
                if existing {
                    shared = try existingCluster()
                } else {
                    let (started, port) = try await BenchCluster.start(cache: true, basePort: nextPort, parent: parent)
                    shared = started
                    nextPort = port
                }
                results.cluster = shared!.description
                try await shared!.restock(BenchExperiments.seeds(shared!).map(\.item))
            }
            if let echoServer, settings.runs("echo") || settings.runs("hitmiss") {
                if settings.runs("echo") { progress.stage("echo floors") }
                results.echo = try await experiments.echo(echoServer)
            }
            if let cluster = shared, settings.runs("hitmiss") {
                progress.stage("experiment 2: cache hit vs miss after a buy", total: settings.hitMissIterations * 5)
                results.hitMiss = try await experiments.hitMiss(cluster)
            }
            if let cluster = shared {
                for (workload, clients) in throughputRuns {
                    progress.stage(
                        "experiment 4: \(workload == "mix" ? "search/lookup/buy mix" : workload + "s"), \(clients) client\(clients == 1 ? "" : "s"), \(settings.throughputSeconds) s"
                    )
                    results.throughput.append(
                        try await experiments.throughput(cluster, workload: workload, clients: clients)
                    )
                }
            }
            if let cluster = shared, canFailover {
                progress.stage("experiment 3: failover (kill and restart catalog-1, then order-1)")
                results.failover = try await experiments.failover(cluster)
            } else if settings.runs("failover") {
                results.notes.append("failover skipped: it needs a local cluster (--cluster DIR), not --frontend")
            }
            if historyStages > 0 {
                // Clusters of its own, one per size; nothing else runs meanwhile.
                await shared?.stop()
                shared = nil
                let history = BenchHistory(sizes: settings.historySizes, parent: parent, keep: keep, progress: progress)
                if results.cluster.isEmpty { results.cluster = "local, one per history size, in \(parent)" }
                (results.history, nextPort) = try await history.run(basePort: nextPort)
            } else if settings.runs("history") {
                results.notes.append("history skipped: it starts its own clusters (not with --cluster or --frontend)")
            }
        } catch {
            await shared?.stop()
            await current?.stop()
            if !keep { try? FileManager.default.removeItem(atPath: parent) }
            throw error
        }
        await shared?.stop()
        if keep {
            results.notes.append("cluster directories kept in \(parent)")
        } else {
            try? FileManager.default.removeItem(atPath: parent)
        }
        if existing {
            results.notes.append(
                "existing cluster: cache off not measured; node-side percentiles marked percentilesExact=false are cumulative since the nodes started (means and counts are exact differences)"
            )
        }
        results.targets = BenchTargets.evaluate(results)
        results.machine.loadAverageEnd = Self.loadAverage()
        results.totalSeconds = (ContinuousClock.now - started).seconds
        return results
    }

    #if DEBUG
    static let build = "debug"
    #else
    static let build = "release"
    #endif

    static func loadAverage() -> Double {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return Double(text.split(separator: " ").first ?? "") ?? 0
    }

    static func kernel() -> String {
        var name = utsname()
        uname(&name)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(name.sysname)) \(field(name.release)) \(field(name.machine))"
    }
}
