import Logging

/// What a replica node (`CatalogNode`, `OrderNode`) is built from: `PygmyNode.init` makes one per node.
struct ReplicaEnvironment: Sendable {
    let spec: NodeSpec
    let topology: Topology
    let clients: PeerClients
    let durability: Durability
    /// The node's event loop, where its shell runs.
    let executor: NodeExecutor
    let logger: Logger
    /// What happens when a persist fails (the node has stopped serving by then).
    let onStorageFailure: @Sendable (any Error) -> Void

    /// Where the replica keeps its SQLite database.
    var dataDirectory: String { topology.resolve(spec.dataDir ?? spec.name) }
}
