/// Decides which peers are up from heartbeat results, with time supplied by the caller.
///
/// A peer is up after a successful heartbeat. It goes down at once on a *definite* failure (the
/// connection was refused or dropped), after `suspicionThreshold` consecutive *soft* failures (a
/// heartbeat that timed out: the peer may only be slow), or when nothing has succeeded for `timeout`.
/// Time is a `Duration` since any fixed origin the caller chooses.
public struct FailureDetector<Peer: Hashable & Sendable>: Sendable {
    public struct Status: Sendable, Hashable {
        public var up: Bool
        public var lastSuccess: Duration?
        public var lastChange: Duration
        public var consecutiveFailures: Int
    }

    public let timeout: Duration
    /// Consecutive soft failures that take a peer down.
    public let suspicionThreshold: Int
    public private(set) var peers: [Peer: Status] = [:]

    public init(peers: [Peer], timeout: Duration, now: Duration, suspicionThreshold: Int = 3) {
        self.timeout = timeout
        self.suspicionThreshold = max(1, suspicionThreshold)
        for peer in peers {
            self.peers[peer] = Status(up: false, lastSuccess: nil, lastChange: now, consecutiveFailures: 0)
        }
    }

    /// Records a successful heartbeat (or any successful call). Returns true if the peer came up.
    @discardableResult
    public mutating func succeeded(_ peer: Peer, now: Duration) -> Bool {
        var status = peers[peer] ?? Status(up: false, lastSuccess: nil, lastChange: now, consecutiveFailures: 0)
        let cameUp = !status.up
        status.up = true
        status.lastSuccess = now
        status.consecutiveFailures = 0
        if cameUp { status.lastChange = now }
        peers[peer] = status
        return cameUp
    }

    /// Records a failed heartbeat or call. Returns true if the peer went down.
    /// - Parameter definite: the peer is certainly unreachable (refused or dropped connection), as
    ///   opposed to merely slow (a timeout).
    @discardableResult
    public mutating func failed(_ peer: Peer, now: Duration, definite: Bool = true) -> Bool {
        var status = peers[peer] ?? Status(up: false, lastSuccess: nil, lastChange: now, consecutiveFailures: 0)
        status.consecutiveFailures += 1
        guard definite || status.consecutiveFailures >= suspicionThreshold else {
            peers[peer] = status
            return false
        }
        let wentDown = status.up
        status.up = false
        if wentDown { status.lastChange = now }
        peers[peer] = status
        return wentDown
    }

    /// Whether `peer` counts as up at `now`.
    public func isUp(_ peer: Peer, now: Duration) -> Bool {
        guard let status = peers[peer], status.up, let last = status.lastSuccess else { return false }
        return now - last < timeout
    }

    /// Whether `peer` is down at `now` on evidence: calls to it failed, or it has been silent past the
    /// timeout since it last answered (not merely because nothing has been heard from it yet).
    public func isSuspected(_ peer: Peer, now: Duration) -> Bool {
        guard let status = peers[peer], !isUp(peer, now: now) else { return false }
        return status.consecutiveFailures > 0 || status.lastSuccess != nil
    }

    /// The peers up at `now`, in the order given.
    public func up(among candidates: [Peer], now: Duration) -> [Peer] {
        candidates.filter { isUp($0, now: now) }
    }
}
