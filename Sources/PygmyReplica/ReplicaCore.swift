import PygmyBookstore

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

    /// The request ids `input` names whose outcome is not in memory: before handing it over, the shell
    /// looks each up in its store and passes what it found to `recall` (an order replica keeps only its
    /// recent orders in memory).
    func requestIdsToRecall(_ input: ReplicaInput<Timer>) -> [String]

    /// Outcomes the store holds for the ids `requestIdsToRecall` named.
    mutating func recall(_ outcomes: [BuyOutcome])
}

extension ReplicaCore {
    public func requestIdsToRecall(_ input: ReplicaInput<Timer>) -> [String] { [] }
    public mutating func recall(_ outcomes: [BuyOutcome]) {}
}

extension CatalogReplica: ReplicaCore {}
extension OrderReplica: ReplicaCore {}
extension FrontendCore: ReplicaCore {}
