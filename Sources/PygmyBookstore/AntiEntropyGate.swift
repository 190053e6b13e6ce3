/// Decides when a replica pulls a peer's whole state (an order log, a catalog snapshot) to repair a
/// divergence that replication missed. Time is supplied by the caller, as for `FailureDetector`.
///
/// Digests alone are not enough: under load two replicas' digests differ at almost every heartbeat,
/// because buys are in flight between them, and pulling the whole log every round cost a quarter of
/// the order replicas' CPU at 1,500 buys/s and grew with the log (docs/BENCH.md). So a replica pulls
/// from a peer whose digest differs from its own only when
/// - the difference is *stable*: neither digest changed since the previous round (a missed update,
///   not one in flight), or
/// - it has not pulled from that peer for `maxInterval` (a missed update under constant load), or
/// - it has never pulled from it (the first difference after a restart is repaired at once).
public struct AntiEntropyGate<Peer: Hashable & Sendable>: Sendable {
    public let maxInterval: Duration
    private var seen: [Peer: Observation] = [:]
    private var lastPull: [Peer: Duration] = [:]

    private struct Observation: Equatable, Sendable {
        var peerDigest: UInt64?
        var ownDigest: UInt64
    }

    public init(maxInterval: Duration) { self.maxInterval = maxInterval }

    /// Whether to pull from `peer` now; records the observation for the next round. A peer that
    /// reports no digest (an older node) counts as different.
    public mutating func shouldPull(from peer: Peer, peerDigest: UInt64?, ownDigest: UInt64, now: Duration) -> Bool {
        let observation = Observation(peerDigest: peerDigest, ownDigest: ownDigest)
        let previous = seen.updateValue(observation, forKey: peer)
        guard peerDigest != ownDigest else { return false }
        let stable = previous == observation
        let due = lastPull[peer].map { now - $0 >= maxInterval } ?? true
        guard stable || due else { return false }
        lastPull[peer] = now
        return true
    }
}
