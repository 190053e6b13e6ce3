import PygmyBookstore

/// A replica core that votes on the membership (catalog and order replicas): how it answers the
/// consensus messages and adopts a chosen membership is the same for both; what a new membership means
/// to it (`adopted`) is its own.
protocol MembershipVoter {
    var acceptor: MembershipAcceptor { get set }
    /// Asks the shell to make the acceptor durable (before anything after it).
    mutating func persistAcceptor()
    /// Reacts to a newer membership than `previous` (already adopted and persisted).
    mutating func adopted(_ previous: Membership)
}

extension MembershipVoter {
    /// Answers a prepare, accept or learn (durable before the answer).
    mutating func vote(_ request: PeerRequest) -> PeerResponse {
        let before = acceptor
        let previous = acceptor.current
        let response: PeerResponse
        switch request {
        case .prepare(let prepare): response = .vote(acceptor.prepare(prepare))
        case .accept(let accept): response = .vote(acceptor.accept(accept))
        case .learn(let membership):
            acceptor.adopt(membership)
            response = .ok
        default: return .ok
        }
        if acceptor != before { persistAcceptor() }
        if acceptor.current != previous { adopted(previous) }
        return response
    }

    /// Adopts a chosen membership newer than the current one (from a peer's status or answer).
    mutating func adopt(_ membership: Membership) {
        let previous = acceptor.current
        guard acceptor.adopt(membership) else { return }
        persistAcceptor()
        adopted(previous)
    }
}

extension CatalogReplica: MembershipVoter {
    mutating func persistAcceptor() { effects.append(.persistMembership(acceptor)) }
}

extension OrderReplica: MembershipVoter {
    mutating func persistAcceptor() { effects.append(.persistMembership(acceptor)) }
}
