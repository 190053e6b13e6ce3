/// Decides which peers are up from heartbeat results, with time supplied by the caller.
///
/// A peer is up after a successful heartbeat and stays up until a heartbeat fails or none has
/// succeeded for `timeout`. Time is a `Duration` since any fixed origin the caller chooses.
public struct FailureDetector<Peer: Hashable & Sendable>: Sendable {
    public struct Status: Sendable, Hashable {
        public var up: Bool
        public var lastSuccess: Duration?
        public var lastChange: Duration
        public var consecutiveFailures: Int
    }

    public let timeout: Duration
    public private(set) var peers: [Peer: Status] = [:]

    public init(peers: [Peer], timeout: Duration, now: Duration) {
        self.timeout = timeout
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

    /// Records a failed heartbeat or a transport failure. Returns true if the peer went down.
    @discardableResult
    public mutating func failed(_ peer: Peer, now: Duration) -> Bool {
        var status = peers[peer] ?? Status(up: false, lastSuccess: nil, lastChange: now, consecutiveFailures: 0)
        let wentDown = status.up
        status.up = false
        status.consecutiveFailures += 1
        if wentDown { status.lastChange = now }
        peers[peer] = status
        return wentDown
    }

    /// Whether `peer` counts as up at `now`.
    public func isUp(_ peer: Peer, now: Duration) -> Bool {
        guard let status = peers[peer], status.up, let last = status.lastSuccess else { return false }
        return now - last < timeout
    }

    /// The peers up at `now`, in the order given.
    public func up(among candidates: [Peer], now: Duration) -> [Peer] {
        candidates.filter { isUp($0, now: now) }
    }
}
