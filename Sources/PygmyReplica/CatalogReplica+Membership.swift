import PygmyBookstore

/// The catalog replica as a voter on the membership, and what a new membership means for it.
extension CatalogReplica {
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
        if acceptor != before { effects.append(.persistMembership(acceptor)) }
        if acceptor.current != previous { adopted(previous) }
        return response
    }

    /// Adopts a chosen membership newer than the current one (from a peer's status or answer).
    mutating func adopt(_ membership: Membership) {
        let previous = acceptor.current
        guard acceptor.adopt(membership) else { return }
        effects.append(.persistMembership(acceptor))
        adopted(previous)
    }

    /// Left out: stop checking and serving until re-admitted. Re-admitted: copy the state of a member at
    /// the new epoch (which takes no older holds any more), then check again.
    private mutating func adopted(_ previous: Membership) {
        let current = acceptor.current
        log(.info, "membership \(current) (was \(previous))")
        grants = [:]
        let wasMember = previous.contains(config.name)
        if !current.contains(config.name) {
            phase = .joining
            join.active = false
        } else if !wasMember {
            phase = .joining
            join = JoinProgress()
            join.started = now
            effects.append(.schedule(.join, after: .zero))
        }
    }
}
