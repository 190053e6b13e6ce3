import ArgumentParser
import Foundation
import PygmyCluster
import PygmyNodes

struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Run a local cluster: one frontend, two (or --catalogs) catalog and two (or --orders) order replicas.",
        subcommands: [Up.self, Down.self, Kill.self, Start.self]
    )

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a topology, start every node as its own process and wait until all are healthy.",
            discussion: "In the foreground, Ctrl-C stops everything. With --detach it returns once healthy."
        )

        @Option(name: .long, help: "Directory for the topology, data, logs, pids (and certificates).")
        var dir: String

        @Flag(name: .long, help: "Mutual TLS on every connection (certificates are generated into DIR/certs).")
        var tls = false

        @Flag(name: .long, help: "Turn the frontend's read cache off.")
        var noCache = false

        @Option(
            name: .long,
            help: "First of the cluster's consecutive ports (five for 2+2; one more per extra replica)."
        )
        var basePort = 7100

        @Option(name: .long, help: "How many catalog replicas (1 to 9).")
        var catalogs = 2

        @Option(name: .long, help: "How many order replicas (1 to 9).")
        var orders = 2

        @Flag(name: .long, help: "Return once healthy, leaving the nodes running (stop with `cluster down`).")
        var detach = false

        func validate() throws {
            guard (1024...65530).contains(basePort) else { throw ValidationError("--base-port must be 1024...65530") }
            for (flag, value) in [("--catalogs", catalogs), ("--orders", orders)]
            where !LocalCluster.replicaCounts.contains(value) {
                throw ValidationError("\(flag) must be 1 to 9, not \(value)")
            }
        }

        func run() async throws {
            try await reporting(json: false) { _ in
                // Catch Ctrl-C from the start, so an early one still stops the nodes started so far.
                let termination = detach ? nil : TerminationSignal()
                let cluster = try LocalCluster.create(
                    directory: dir,
                    basePort: basePort,
                    tls: tls,
                    cache: !noCache,
                    catalogs: catalogs,
                    orders: orders
                )
                for name in cluster.names { try cluster.start(name) }
                let client = try cluster.client(certificateRole: "admin")
                do {
                    try await cluster.waitUntilHealthy(client: client, everyNode: true)
                } catch {
                    await cluster.stopAll()
                    throw error
                }
                await client.close()
                print("pygmy cluster up in \(cluster.directory)\(tls ? " (mutual TLS)" : "")")
                for spec in try cluster.topology().nodes {
                    print(
                        "  \(spec.name.padding(10)) \(spec.role.rawValue.padding(9)) \(spec.address)  pid \(cluster.pid(spec.name) ?? 0)"
                    )
                }
                print("try: pygmy search \"distributed systems\" --cluster \(dir)")
                guard !detach else { return }
                print("Ctrl-C stops the cluster.")
                await termination?.wait()
                print("stopping…")
                await cluster.stopAll()
            }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop every node of a local cluster.")

        @Option(name: .long, help: "The cluster directory.")
        var dir: String

        func run() async throws {
            let cluster = LocalCluster(directory: dir)
            await cluster.stopAll()
            print("pygmy cluster in \(dir) stopped")
        }
    }

    struct Kill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Crash one node with SIGKILL.")

        @Option(name: .long, help: "The cluster directory.")
        var dir: String

        @Argument(help: "The node, for example catalog-1.")
        var node: String

        func run() async throws {
            try await reporting(json: false) { _ in
                try await LocalCluster(directory: dir).crash(node)
                print("killed \(node)")
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start one node again (after `cluster kill`).")

        @Option(name: .long, help: "The cluster directory.")
        var dir: String

        @Argument(help: "The node, for example catalog-1.")
        var node: String

        func run() async throws {
            try await reporting(json: false) { _ in
                let cluster = LocalCluster(directory: dir)
                let pid = try cluster.start(node)
                print("started \(node) (pid \(pid))")
            }
        }
    }
}
