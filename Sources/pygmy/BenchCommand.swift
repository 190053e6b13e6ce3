import ArgumentParser
import Foundation
import PygmyBookstore
import PygmyCluster
import PygmyNodes
import PygmyTLS

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the original store's performance experiments.",
        discussion: """
            Reproduces the course report's experiments against local clusters it starts (a new one per \
            cache setting and client count, so the nodes' histograms hold one experiment each), or against \
            a running cluster (--cluster DIR or --frontend HOST:PORT):

            1. latency per operation and tier, cache on and off, per --clients count;
            2. a cache hit versus the miss right after a buy of the same item;
            3. failover: catalog-1, then order-1 killed (SIGKILL) and restarted;
            4. throughput of lookups, buys and an equal mix, per client count;
            and, only when named in --only, the history experiment (issue 14): per --history-sizes, a \
            cluster started on that many stored orders, its replicas' memory, restart times and sync sizes.

            Also measures two loopback echo floors (a bare TCP socket and Pygmy RPC) and states the \
            targets as ratios to them. Prints the tables in the report's layout, writes --out/latest.json \
            with every figure and SVG charts beside it; progress goes to stderr. Measure a release build. \
            See docs/BENCH.md.
            """
    )

    @Option(name: .long, help: "Concurrent clients for experiment 1, comma-separated.")
    var clients = "1,5,10"

    @Option(name: .long, help: "Sequential requests per client per operation in experiment 1 (default 1000).")
    var requests: Int?

    @Option(name: .long, help: "Hit/miss pairs in experiment 2 (default 1000).")
    var hitMiss: Int?

    @Option(name: .long, help: "Client counts for experiment 4, comma-separated.")
    var throughputClients = "1,5,10,50"

    @Option(name: .long, help: "Clients for the search/lookup/buy mix of experiment 4.")
    var mixClients = 10

    @Option(name: .long, help: "Throughput workloads of experiment 4, comma-separated: lookup, buy, mix.")
    var workloads = "lookup,buy,mix"

    @Option(name: .long, help: "Seconds per throughput run (default 3).")
    var duration: Double?

    @Option(name: .long, help: "Clients during the failover experiment.")
    var failoverClients = 5

    @Option(
        name: .long,
        help: "Experiments to run, comma-separated: latency, hitmiss, failover, throughput, echo; history if named."
    )
    var only = "latency,hitmiss,failover,throughput,echo"

    @Option(name: .long, help: "Orders of history per cluster of the history experiment, comma-separated.")
    var historySizes = BenchHistoryDefaults.sizes.map(String.init).joined(separator: ",")

    @Flag(name: .long, help: "Small counts for a smoke test (about 30 s).")
    var quick = false

    @Option(name: .long, help: "Directory for latest.json and the SVG charts.")
    var out = "bench-results"

    @Option(name: .long, help: "A running local cluster's directory, instead of starting clusters.")
    var cluster: String?

    @Option(name: .long, help: "A running frontend, HOST:PORT, instead of starting clusters (no failover).")
    var frontend: String?

    @Option(
        name: .long,
        help: "With --frontend on a TLS cluster: the clients' certificate (PEM; default: $PYGMY_CERTS_DIR/client.crt)."
    )
    var cert: String?

    @Option(name: .long, help: "With --frontend on a TLS cluster: the key of --cert (PEM).")
    var key: String?

    @Option(
        name: .long,
        help: "With --frontend on a TLS cluster: the CA bundle that signed the frontend's certificate."
    )
    var ca: String?

    @Option(
        name: .long,
        help:
            "With --cert: a certificate with the admin role, for the bench's restocks and status reads (default: --cert itself)."
    )
    var adminCert: String?

    @Option(name: .long, help: "The key of --admin-cert (PEM).")
    var adminKey: String?

    @Option(name: .long, help: "First port to try for the clusters the bench starts (five per cluster).")
    var basePort = 7600

    @Flag(name: .long, help: "Keep the clusters' directories (logs, databases) afterwards.")
    var keep = false

    @Flag(name: .long, help: "Print the JSON to stdout instead of the tables.")
    var json = false

    @Flag(name: .long, help: .hidden)
    var serveEcho = false

    static let allExperiments: Set<String> = ["latency", "hitmiss", "failover", "throughput", "echo", "history"]

    /// `--history-sizes`: 1 to 10,000,000 orders each.
    func parsedHistorySizes() throws -> [Int] {
        let values = historySizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ (1...10_000_000).contains($0 ?? 0) }) else {
            throw ValidationError(
                "--history-sizes must be a comma-separated list of order counts from 1 to 10000000, not \"\(historySizes)\""
            )
        }
        return values.map { $0! }
    }

    func parsedList(_ text: String, _ option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 500 }) else {
            throw ValidationError("\(option) must be a comma-separated list of counts from 1 to 500, not \"\(text)\"")
        }
        return values.map { $0! }
    }

    func validate() throws {
        guard !serveEcho else { return }
        _ = try parsedList(clients, "--clients")
        _ = try parsedList(throughputClients, "--throughput-clients")
        _ = try parsedHistorySizes()
        let experiments = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        guard !experiments.isEmpty, experiments.isSubset(of: Self.allExperiments) else {
            throw ValidationError(
                "--only takes \(Self.allExperiments.sorted().joined(separator: ", ")), not \"\(only)\""
            )
        }
        let kinds = Set(workloads.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        guard !kinds.isEmpty, kinds.isSubset(of: ["lookup", "buy", "mix"]) else {
            throw ValidationError("--workloads takes lookup, buy, mix, not \"\(workloads)\"")
        }
        if cluster != nil && frontend != nil { throw ValidationError("give --cluster or --frontend, not both") }
        if let frontend, parseAddress(frontend) == nil {
            throw ValidationError("--frontend must be HOST:PORT, not \"\(frontend)\"")
        }
        try validateTLS()
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if let hitMiss, hitMiss < 1 { throw ValidationError("--hit-miss must be at least 1") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        guard (1...500).contains(mixClients), (1...500).contains(failoverClients) else {
            throw ValidationError("--mix-clients and --failover-clients must be 1...500")
        }
        guard (1024...65000).contains(basePort) else { throw ValidationError("--base-port must be 1024...65000") }
    }

    func settings() throws -> BenchSettings {
        var settings = BenchSettings(
            clients: try parsedList(clients, "--clients"),
            requests: requests ?? (quick ? 100 : 1000),
            hitMissIterations: hitMiss ?? (quick ? 100 : 1000),
            throughputClients: try parsedList(throughputClients, "--throughput-clients"),
            mixClients: mixClients,
            throughputSeconds: duration ?? (quick ? 0.5 : 3),
            warmupSeconds: quick ? 0.1 : 0.5,
            failoverClients: failoverClients,
            failoverPhaseSeconds: quick ? 0.7 : 2,
            echoCalls: quick ? 1000 : 5000,
            echoThroughputSeconds: quick ? 0.5 : 2,
            experiments: Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }),
            workloads: Set(workloads.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        )
        settings.historySizes = try parsedHistorySizes()
        return settings
    }

    func run() async throws {
        if serveEcho {
            try await BenchEcho.serve()
            return
        }
        try await reporting(json: false) { _ in
            let settings = try settings()
            let results = try await BenchRun(
                settings: settings,
                quick: quick,
                keep: keep,
                basePort: basePort,
                clusterDirectory: cluster,
                frontend: frontend.flatMap(parseAddress).map { (host: $0.0, port: $0.1) },
                frontendTLS: frontendTLS()
            )
            .run()
            try write(results)
            if json {
                print(Output.encode(results))
            } else {
                print(BenchReport.render(results))
                print(
                    "\nWrote \((out as NSString).appendingPathComponent("latest.json")) and \(BenchCharts.all(results).keys.sorted().joined(separator: ", "))"
                )
            }
        }
    }

    /// The certificate options go together, and only with `--frontend` (a `--cluster` directory has its own).
    func validateTLS() throws {
        let given = [cert, key, ca].compactMap { $0 }.count
        if given != 0 && given != 3 { throw ValidationError("TLS needs all of --cert, --key and --ca") }
        if (adminCert == nil) != (adminKey == nil) {
            throw ValidationError("give --admin-cert and --admin-key together")
        }
        if adminCert != nil && given == 0 { throw ValidationError("--admin-cert needs --cert, --key and --ca") }
        if given != 0 && frontend == nil {
            throw ValidationError(
                "--cert, --key and --ca go with --frontend (a --cluster directory, or a cluster the bench starts, has its own)"
            )
        }
    }

    /// The certificates for `--frontend`: the options, else `PYGMY_CERTS_DIR`'s client and admin
    /// certificates; nil for a plaintext cluster.
    func frontendTLS() -> BenchTLS? {
        if let cert, let key, let ca {
            let client = TLSConfiguration(certificateChainFile: cert, privateKeyFile: key, trustedCAFile: ca)
            let admin = adminCert.map {
                TLSConfiguration(certificateChainFile: $0, privateKeyFile: adminKey, trustedCAFile: ca)
            }
            return BenchTLS(client: client, admin: admin ?? client)
        }
        guard frontend != nil, let certs = ClientOptions.environment["PYGMY_CERTS_DIR"], !certs.isEmpty else {
            return nil
        }
        return BenchTLS(client: .node(named: "client", in: certs), admin: .node(named: "admin", in: certs))
    }

    func write(_ results: BenchResults) throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(results).write(
            to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("latest.json"))
        )
        for (name, svg) in BenchCharts.all(results) {
            try svg.write(toFile: (out as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }
}
