import PygmyBookstore

/// What the shells need of a node core: one input at a time, with the time given, effects out.
/// `CatalogReplica`, `OrderReplica` and `FrontendCore` conform; the production shell (`PygmyNodes`) and
/// the simulator shell (`PygmySimulation`) are generic over it.
public protocol ReplicaCore: Sendable {
    associatedtype Mutation: Sendable & Hashable
    associatedtype Timer: Hashable & Sendable
    /// What the shell's store gives back for an id `requestIdsToRecall` named.
    associatedtype Recalled: Sendable = BuyOutcome

    /// Handles `input`; the shell carries out the returned effects in order.
    mutating func handle(_ input: ReplicaInput<Timer>, at time: ReplicaTime) -> [ReplicaEffect<Mutation, Timer>]

    /// What the node reports in heartbeats.
    var status: PeerStatus { get }

    /// The ids `input` names that memory lacks: before handing it over, the shell looks each up in its
    /// store and passes what it found to `recall` (an order replica keeps only its recent orders and
    /// refusals in memory, a catalog replica its unfolded restocks).
    func requestIdsToRecall(_ input: ReplicaInput<Timer>) -> [String]

    /// What the store holds for the ids `requestIdsToRecall` named.
    mutating func recall(_ found: [Recalled])
}

extension ReplicaCore {
    public func requestIdsToRecall(_ input: ReplicaInput<Timer>) -> [String] { [] }
    public mutating func recall(_ found: [Recalled]) {}
}

extension CatalogReplica: ReplicaCore {
    /// A restock whose op id memory lacks may be a retry of a folded one, or a peer's later stamp of one
    /// (found by the simulator, seed 3009953: a late snapshot brought back a restock folded under its
    /// earlier stamp, and it was counted twice): the store knows.
    public func requestIdsToRecall(_ input: ReplicaInput<Timer>) -> [String] {
        let named: [String]
        switch input {
        case .request(_, .restock(let request), _): named = [request.opId]
        case .reply(_, .answered(.snapshot(let snapshot), _)): named = snapshot.restocks.map(\.opId)
        default: return []
        }
        return named.filter { state.restocks[$0] == nil }
    }

    public mutating func recall(_ found: [Restock]) { state.recall(found) }
}
extension OrderReplica: ReplicaCore {}
extension FrontendCore: ReplicaCore {}
