/// Which undelivered orders an order replica re-sends commits for. Time is supplied by the caller.
///
/// An order is *undelivered* at a replica until every catalog replica has acknowledged its commit
/// there. Its coordinator delivers it within milliseconds, and an order learnt by replication is
/// undelivered at the peer forever unless the peer delivers it too. Re-sending every undelivered order
/// each round made every buy cost two more commit calls and a transaction at the peer (and duplicates
/// of the coordinator's own commits in flight). So an order is due only once it has been seen
/// undelivered for `grace`: a coordinator that is still alive has delivered it by then, and one that
/// crashed after replicating leaves it to the peer. (Recovery after a restart delivers everything at
/// once, without this schedule.)
public struct RedeliverySchedule: Sendable {
    public let grace: Duration
    private var firstSeen: [String: Duration] = [:]

    public init(grace: Duration) { self.grace = grace }

    /// The ids of `undelivered` due now, sorted; remembers when each was first seen and forgets the
    /// ones no longer undelivered.
    public mutating func due(_ undelivered: Set<String>, now: Duration) -> [String] {
        firstSeen = firstSeen.filter { undelivered.contains($0.key) }
        var due: [String] = []
        for id in undelivered {
            if let seen = firstSeen[id] {
                if now - seen >= grace { due.append(id) }
            } else {
                firstSeen[id] = now
            }
        }
        return due.sorted()
    }
}
