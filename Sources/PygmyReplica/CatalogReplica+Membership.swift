import PygmyBookstore

/// The catalog replica as a voter on the membership, and what a new membership means for it.
extension CatalogReplica {
    /// Left out: stop checking and serving until re-admitted. Re-admitted: copy the state of a member at
    /// the new epoch (which takes no older holds any more), then check again.
    mutating func adopted(_ previous: Membership) {
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
