import ArgumentParser
import Foundation
import PygmyNodes

/// `pygmy topology`: topology files for deployments written by hand (`cluster up` writes its own).
struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Write topology files for a deployment across hosts.",
        subcommands: [Init.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a topology with a fresh cluster id.",
            discussion: """
                Every node of a cluster reads the same file (docs/DEPLOYMENT.md). Without addresses, the
                nodes are cluster up's: a frontend on 127.0.0.1:7100, catalog replicas from 7101 and order
                replicas after them. With --tls each node gets certs/<name>.crt, .key and certs/ca.crt,
                relative to the file. Check the result with `pygmy node --check --config FILE`.
                """
        )

        @Option(name: .long, help: "Where to write the topology (refused if it exists, unless --force).")
        var out: String

        @Option(name: .long, help: "The frontend's HOST:PORT.")
        var frontend = "127.0.0.1:7100"

        @Option(name: .long, help: "A catalog replica's HOST:PORT; repeat for each (default: two on 127.0.0.1).")
        var catalog: [String] = []

        @Option(name: .long, help: "An order replica's HOST:PORT; repeat for each (default: two on 127.0.0.1).")
        var order: [String] = []

        @Flag(name: .long, help: "Mutual TLS: certificate, key and CA paths for every node.")
        var tls = false

        @Flag(name: .long, help: "Overwrite an existing file.")
        var force = false

        @Flag(name: .long, help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            for address in [frontend] + catalog + order where parseAddress(address) == nil {
                throw ValidationError("\"\(address)\" is not HOST:PORT with a port from 1 to 65535")
            }
        }

        func run() async throws {
            try await reporting(json: json) { output in
                guard force || !FileManager.default.fileExists(atPath: out) else {
                    throw CommandFailure(
                        code: "invalidArguments",
                        message: "\(out) exists; choose another --out or pass --force to replace it",
                        exit: Exit.invalidArguments
                    )
                }
                let catalogs = catalog.isEmpty ? ["127.0.0.1:7101", "127.0.0.1:7102"] : catalog
                let orders =
                    order.isEmpty
                    ? ["127.0.0.1:\(7101 + catalogs.count)", "127.0.0.1:\(7102 + catalogs.count)"] : order
                var nodes = [spec("frontend", .frontend, frontend)]
                nodes += catalogs.enumerated().map { spec("catalog-\($0.offset + 1)", .catalog, $0.element) }
                nodes += orders.enumerated().map { spec("order-\($0.offset + 1)", .order, $0.element) }
                var topology = Topology(nodes: nodes)
                topology.clusterId = UUID().uuidString
                try topology.validate()
                try topology.write(to: out)
                let clusterId = topology.clusterId ?? ""
                output.emit(Written(file: out, clusterId: clusterId, nodes: nodes.map(\.name))) {
                    "wrote \(out): cluster \(clusterId), nodes \(nodes.map(\.name).joined(separator: ", ")); "
                        + "check it with `pygmy node --check --config \(out)`"
                }
            }
        }

        private func spec(_ name: String, _ role: NodeRole, _ address: String) -> NodeSpec {
            let (host, port) = parseAddress(address)!
            return NodeSpec(
                name: name,
                role: role,
                host: host,
                port: port,
                dataDir: role == .frontend ? nil : name,
                tls: tls ? NodeTLS(certificate: "certs/\(name).crt", key: "certs/\(name).key", ca: "certs/ca.crt") : nil
            )
        }

        struct Written: Encodable {
            var file: String
            var clusterId: String
            var nodes: [String]
        }
    }
}
