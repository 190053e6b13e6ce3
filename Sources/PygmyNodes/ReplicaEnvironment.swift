import Logging

/// What a replica actor (`CatalogNode`, `OrderNode`) is built from: `PygmyNode.init` makes one per node.
struct ReplicaEnvironment: Sendable {
    let spec: NodeSpec
    let topology: Topology
    let peers: Peers
    let durability: Durability
    /// The node's event loop, where the actor runs.
    let executor: NodeExecutor
    let logger: Logger

    /// Where the replica keeps its SQLite database.
    var dataDirectory: String { topology.resolve(spec.dataDir ?? spec.name) }
}
