import PygmyBookstore

/// A node's view of its peers: who is up (a `FailureDetector` fed by heartbeats and by every call's
/// result), what each last reported, and which connection generation last carried its answers.
///
/// Each peer is heartbeaten on its own: a peer that does not answer delays nobody else's verdict (a
/// round that waited for every peer let one silent peer make reachable ones look down).
public struct PeerTracker: Sendable {
    public let byRole: [ReplicaRole: [String]]
    public let all: [String]
    public internal(set) var detector: FailureDetector<String>
    /// The last status each peer reported in a heartbeat.
    public internal(set) var statuses: [String: PeerStatus] = [:]
    /// The newest connection generation seen on an answer from each peer.
    public internal(set) var generations: [String: UInt64] = [:]
    private var heartbeating: Set<String> = []
    /// Peers whose last call was refused (nothing listening) with no success since: the only peers
    /// known not to be running.
    public internal(set) var provenDown: Set<String> = []

    public init(byRole: [ReplicaRole: [String]], timing: ReplicaTiming, now: Duration) {
        self.byRole = byRole.mapValues { $0.sorted() }
        self.all = byRole.values.flatMap { $0 }.sorted()
        self.detector = FailureDetector(peers: all, timeout: timing.failureTimeout, now: now)
    }

    /// Every peer of `role`, sorted by name.
    public func names(_ role: ReplicaRole) -> [String] { byRole[role] ?? [] }

    public func isUp(_ peer: String, now: Duration) -> Bool { detector.isUp(peer, now: now) }

    /// The peers of `role` that are up, sorted by name.
    public func up(_ role: ReplicaRole, now: Duration) -> [String] { names(role).filter { isUp($0, now: now) } }

    /// The peers of `role` that are up, or all of them when none is (the detector is advice: with no
    /// opinion yet, or after a burst of load delayed heartbeats, trying them all is better than failing).
    public func upOrAll(_ role: ReplicaRole, now: Duration) -> [String] {
        let live = up(role, now: now)
        return live.isEmpty ? names(role) : live
    }

    /// The peers of `role` not known to be gone: every one but those whose process refused the
    /// connection (all of them when every one did). A buy holds at these: a replica that is only slow,
    /// hung or cut off is never left out, since it would come back without rejoining and vouch for
    /// stock with a state that misses the holds made without it. One that was down rejoins (and passes
    /// the join barrier) before it is included again.
    public func notProvenDown(_ role: ReplicaRole) -> [String] {
        let candidates = names(role).filter { !provenDown.contains($0) }
        return candidates.isEmpty ? names(role) : candidates
    }

    /// Feeds a call's outcome to the failure detector. Returns a log line when the peer's state changed.
    public mutating func record(_ peer: String, _ result: CallResult, now: Duration) -> String? {
        switch result {
        case .answered(let response, let connection):
            if case .status(let status) = response { statuses[peer] = status }
            if let connection { generations[peer] = max(generations[peer] ?? 0, connection) }
            return markUp(peer, now: now)
        case .failed(.error):
            return markUp(peer, now: now)  // it answered: the process is there
        case .failed(let failure):
            if failure.provesDown { provenDown.insert(peer) }
            // Only a refused connection proves the process is gone; a lost connection or a timeout may
            // be a reset or a slow peer, and a peer wrongly taken for down misses the holds of the buys
            // made meanwhile.
            return detector.failed(peer, now: now, definite: failure.provesDown) ? "peer \(peer) down: \(failure)" : nil
        }
    }

    /// Records that `peer` is reachable (it called us, or answered).
    @discardableResult
    public mutating func markUp(_ peer: String, now: Duration) -> String? {
        provenDown.remove(peer)
        return detector.succeeded(peer, now: now) ? "peer \(peer) up" : nil
    }

    /// The peers to heartbeat now: every peer whose previous heartbeat has been answered or has failed.
    public mutating func startHeartbeats() -> [String] {
        let due = all.filter { !heartbeating.contains($0) }
        heartbeating.formUnion(due)
        return due
    }

    public mutating func heartbeatEnded(_ peer: String) { heartbeating.remove(peer) }

    /// Peers up and down at `now`, by name.
    public func byState(now: Duration) -> (up: [String], down: [String]) {
        (all.filter { isUp($0, now: now) }, all.filter { !isUp($0, now: now) })
    }
}

/// The calls a core has in flight and what each is for.
public struct CallTable<Purpose: Sendable>: Sendable {
    private var next: UInt64 = 1
    private var purposes: [CallID: Purpose] = [:]

    public init() {}

    /// A new call id for `purpose`.
    public mutating func open(_ purpose: Purpose) -> CallID {
        let id = CallID(next)
        next += 1
        purposes[id] = purpose
        return id
    }

    /// What the call was for; nil for a call that is not (or no longer) open, such as a duplicate reply.
    public mutating func close(_ id: CallID) -> Purpose? { purposes.removeValue(forKey: id) }

    public var count: Int { purposes.count }
}
