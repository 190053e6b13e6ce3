import ArgumentParser
import Foundation
import Logging
import PygmyNodes
import ServiceLifecycle

struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one node in the foreground (logs to stderr; stops cleanly on SIGINT/SIGTERM)."
    )

    @Argument(help: "The node's role: frontend, catalog or order.")
    var role: NodeRole

    @Option(name: .long, help: "The topology file shared by every node.")
    var config: String

    @Option(name: .long, help: "This node's name in the topology.")
    var name: String

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: "SQLite durability: process (survives a crash) or power (fsync per commit).")
    var durability: Durability = .process

    func run() async throws {
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
        let node = try PygmyNode(name: name, topology: topology, durability: durability, logger: logger)
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
