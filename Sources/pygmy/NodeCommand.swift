import ArgumentParser
import Foundation
import Logging
import PygmyCluster
import PygmyNodes
import ServiceLifecycle

struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one node in the foreground (logs to stderr; stops cleanly on SIGINT/SIGTERM).",
        discussion: """
            With --check, validates the topology (every key, value and TLS file; only the named node's with
            --name) and exits: 0 if it is valid, 64 with the first problem otherwise. Nothing is started.
            """
    )

    @Argument(help: "The node's role: frontend, catalog or order (not needed with --check).")
    var role: NodeRole?

    @Option(name: .long, help: "The topology file shared by every node.")
    var config: String

    @Option(name: .long, help: "This node's name in the topology (not needed with --check).")
    var name: String?

    @Flag(name: .long, help: "Validate the topology and TLS files, start nothing.")
    var check = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: "SQLite durability: process (survives a crash) or power (fsync per commit).")
    var durability: Durability = .process

    func validate() throws {
        guard !check else { return }
        guard role != nil else { throw ValidationError("give the node's role (frontend, catalog or order)") }
        guard name != nil else { throw ValidationError("give the node's name with --name (or validate with --check)") }
    }

    /// `--check`: everything a start would read, read and checked; nothing bound or written.
    func runCheck() throws {
        let topology: Topology
        do {
            topology = try Topology.load(path: config)
            let nodes = try name.map { [try topology.node(named: $0)] } ?? topology.nodes
            for spec in nodes {
                if let role, spec.role != role {
                    throw ValidationError(
                        "node \(spec.name) is a \(spec.role.rawValue) in \(config), not a \(role.rawValue)"
                    )
                }
                _ = try PygmyNode.openSSLSecurity(for: spec, in: topology, logger: Logger(label: "pygmy.check"))
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(error)")
        }
        let tls = topology.nodes.allSatisfy { $0.tls != nil } ? "mutual TLS" : "plaintext"
        print(
            "topology \(config) is valid: \(topology.nodes.count) nodes (\(topology.nodes.map(\.name).joined(separator: ", "))), "
                + "cluster \(topology.clusterId ?? "without an id"), \(tls)"
        )
    }

    func run() async throws {
        if check {
            do {
                return try runCheck()
            } catch let error as ValidationError {
                let failure = CommandFailure(
                    code: "invalidTopology",
                    message: error.message,
                    exit: Exit.invalidArguments
                )
                throw Output(json: false).fail(failure)
            }
        }
        guard let role, let name else { throw ValidationError("give the node's role and --name") }
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let topology: Topology
        let spec: NodeSpec
        do {
            topology = try Topology.load(path: config)
            spec = try topology.node(named: name)
        } catch {
            throw ValidationError("\(error)")
        }
        guard spec.role == role else {
            throw ValidationError("node \(name) is a \(spec.role.rawValue) in \(config), not a \(role.rawValue)")
        }
        let logger = Logger(label: "pygmy.\(role.rawValue)")
        // A failed write leaves the node's memory ahead of its disk: exit (75, "temporary failure") so a
        // supervisor restarts it from what is durable.
        // A node that cannot start (its port held, its data directory in use) says so in one line, as
        // every command does, and `cluster up` shows that line.
        do {
            try await run(name: name, spec: spec, topology: topology, logger: logger)
        } catch {
            throw Output(json: false).fail(error)
        }
    }

    private func run(name: String, spec: NodeSpec, topology: Topology, logger: Logger) async throws {
        let node = try PygmyNode(
            name: name,
            topology: topology,
            security: try PygmyNode.openSSLSecurity(for: spec, in: topology, logger: logger),
            durability: durability,
            logger: logger
        ) { error in
            FileHandle.standardError.write(Data("pygmy node \(name): storage failure (\(error)); exiting\n".utf8))
            Foundation.exit(75)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: node)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

extension NodeRole: ExpressibleByArgument {}
extension Durability: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
