/// What the shells need of a node core: one input at a time, with the time given, effects out.
/// `CatalogReplica`, `OrderReplica` and `FrontendCore` conform; the production shell (`PygmyNodes`) and
/// the simulator shell (`PygmySimulation`) are generic over it.
public protocol ReplicaCore: Sendable {
    associatedtype Mutation: Sendable & Hashable
    associatedtype Timer: Hashable & Sendable

    /// Handles `input`; the shell carries out the returned effects in order.
    mutating func handle(_ input: ReplicaInput<Timer>, at time: ReplicaTime) -> [ReplicaEffect<Mutation, Timer>]

    /// What the node reports in heartbeats.
    var status: PeerStatus { get }
}

extension CatalogReplica: ReplicaCore {}
extension OrderReplica: ReplicaCore {}
extension FrontendCore: ReplicaCore {}
