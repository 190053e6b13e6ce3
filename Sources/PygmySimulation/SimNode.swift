import PygmyBookstore

/// A simulated process: it handles requests, calls its peers (with timeouts), runs timers, and can
/// crash (losing everything but its durable state) and restart.
///
/// Everything a node does is guarded by its incarnation: after a crash, answers to its old calls,
/// its old timers and its unfinished handlers are ignored, as if the process were gone.
class SimNode {
    let name: String
    let role: SimRole
    unowned let world: SimWorld
    private(set) var alive = true
    private(set) var incarnation = 0
    private var nextCall = 0
    private var pending: [Int: (SimReply) -> Void] = [:]
    /// Peers by role, sorted by name.
    var peersByRole: [SimRole: [String]] = [:]
    var detector = FailureDetector<String>(peers: [], timeout: .zero, now: .zero)
    var lastStatus: [String: SimStatus] = [:]
    /// When to pull a peer's whole state (volatile, like the real nodes' gate).
    var antiEntropyGate = AntiEntropyGate<String>(maxInterval: .zero)
    let settings: SimSettings

    init(name: String, role: SimRole, world: SimWorld, settings: SimSettings) {
        self.name = name
        self.role = role
        self.world = world
        self.settings = settings
    }

    var now: Int64 { world.now }
    var clock: Duration { .microseconds(world.now) }
    var allPeers: [String] { peersByRole.values.flatMap { $0 }.sorted() }

    func peers(_ role: SimRole) -> [String] { peersByRole[role] ?? [] }
    func isUp(_ peer: String) -> Bool { detector.isUp(peer, now: clock) }
    /// Peers of `role` the failure detector considers up, sorted by name.
    func up(_ role: SimRole) -> [String] { peers(role).filter(isUp) }
    /// Whether to pull `peer`'s whole state now, from its last heartbeat's digest (`AntiEntropyGate`).
    func shouldPull(from peer: String, ownDigest: UInt64) -> Bool {
        antiEntropyGate.shouldPull(from: peer, peerDigest: lastStatus[peer]?.digest, ownDigest: ownDigest, now: clock)
    }

    // MARK: Life cycle

    /// Starts the node's volatile life: called at the start and after every restart.
    func boot() {
        detector = FailureDetector(peers: allPeers, timeout: settings.failureTimeout, now: clock)
        lastStatus = [:]
        antiEntropyGate = AntiEntropyGate(maxInterval: .microseconds(settings.antiEntropyMaxInterval))
        every(settings.heartbeat) { [unowned self] done in heartbeatRound(done) }
    }

    func crash() {
        guard alive else { return }
        alive = false
        incarnation += 1
        pending.removeAll()
        world.log("\(name) CRASH")
        lostVolatileState()
    }

    func restart() {
        guard !alive else { return }
        alive = true
        world.log("\(name) restart")
        boot()
    }

    /// Drops whatever a real process keeps only in memory.
    func lostVolatileState() {}

    // MARK: Time

    /// Runs `body` after `delay`, unless the node crashed in the meantime.
    func after(_ delay: Int64, _ body: @escaping () -> Void) {
        let life = incarnation
        world.after(delay) { [unowned self] in
            guard alive, incarnation == life else { return }
            body()
        }
    }

    /// Runs `body` every `interval`, waiting for it to call `done` before the next wait (like the real
    /// nodes' background loops).
    func every(_ interval: Int64, _ body: @escaping (@escaping () -> Void) -> Void) {
        after(interval) { [unowned self] in
            body { [unowned self] in every(interval, body) }
        }
    }

    // MARK: Calls

    /// Calls `peer`; `done` gets exactly one reply, unless this node crashes first.
    func call(_ peer: String, _ request: SimRequest, timeout: Int64, _ done: @escaping (SimReply) -> Void) {
        let id = nextCall
        nextCall += 1
        pending[id] = done
        let life = incarnation
        let target = world.node(peer)
        world.transmit(to: peer) { [unowned self, world] in
            guard target.alive else {
                // A refused connection: the caller learns it after a round trip.
                world.transmit(to: name, lossless: true) { [unowned self] in
                    complete(id, life, .failed(definite: true, "\(peer) refused the connection"))
                }
                return
            }
            let targetLife = target.incarnation
            target.handle(request, from: name) { [unowned self] response in
                guard target.alive, target.incarnation == targetLife else { return }
                world.transmit(to: name) { [unowned self] in complete(id, life, .response(response)) }
            }
        }
        after(timeout) { [unowned self] in complete(id, life, .failed(definite: false, "timed out")) }
    }

    private func complete(_ id: Int, _ life: Int, _ reply: SimReply) {
        guard alive, incarnation == life, let done = pending.removeValue(forKey: id) else { return }
        done(reply)
    }

    /// Calls `peer` and feeds the outcome to the failure detector, as the real nodes' `Peers.call` does.
    func callPeer(_ peer: String, _ request: SimRequest, timeout: Int64, _ done: @escaping (SimReply) -> Void) {
        call(peer, request, timeout: timeout) { [unowned self] reply in
            switch reply {
            case .response(.error(let error)) where error.code == .unavailable:
                markDown(peer, definite: true, "\(error)")
            case .response: markUp(peer)
            case .failed(let definite, let why): markDown(peer, definite: definite, why)
            }
            done(reply)
        }
    }

    func markUp(_ peer: String) {
        if detector.succeeded(peer, now: clock) { world.log("\(name) sees \(peer) up") }
    }

    func markDown(_ peer: String, definite: Bool, _ why: String) {
        if detector.failed(peer, now: clock, definite: definite) { world.log("\(name) sees \(peer) down: \(why)") }
    }

    /// Calls `peers` one after another; `done` gets the replies in order.
    func callEach(
        _ peers: [String],
        _ request: (String) -> SimRequest,
        timeout: Int64,
        _ done: @escaping ([(String, SimReply)]) -> Void
    ) {
        var replies: [(String, SimReply)] = []
        var remaining = peers[...]
        let requests = Dictionary(uniqueKeysWithValues: peers.map { ($0, request($0)) })
        func next() {
            guard let peer = remaining.popFirst() else { return done(replies) }
            callPeer(peer, requests[peer]!, timeout: timeout) { reply in
                replies.append((peer, reply))
                next()
            }
        }
        next()
    }

    /// Calls `peers` in parallel; `done` gets every reply once all are in.
    func callAll(
        _ peers: [String],
        _ request: SimRequest,
        timeout: Int64,
        _ done: @escaping ([String: SimReply]) -> Void
    ) {
        guard !peers.isEmpty else { return done([:]) }
        var replies: [String: SimReply] = [:]
        for peer in peers {
            callPeer(peer, request, timeout: timeout) { reply in
                replies[peer] = reply
                if replies.count == peers.count { done(replies) }
            }
        }
    }

    // MARK: Serving

    /// Handles one request; `reply` may be called later (or never, if the node crashes).
    func handle(_ request: SimRequest, from peer: String, reply: @escaping (SimResponse) -> Void) {
        if case .heartbeat = request { return reply(.status(status)) }
        reply(.error(BookstoreError(.invalidValue, "\(name) does not serve \(request)")))
    }

    var status: SimStatus { SimStatus(ready: true, incarnation: incarnation) }

    private func heartbeatRound(_ done: @escaping () -> Void) {
        callAll(allPeers, .heartbeat, timeout: settings.heartbeat * 2) { [unowned self] replies in
            for (peer, reply) in replies {
                if case .response(.status(let status)) = reply { lastStatus[peer] = status }
            }
            done()
        }
    }
}

/// Timing of the simulated nodes: the real nodes' defaults, scaled.
public struct SimSettings: Sendable {
    public var heartbeat: Int64 = 100_000
    public var failureTimeout: Duration { .microseconds(heartbeat * 5) }
    /// As `Topology.antiEntropyMaxInterval`: 50 heartbeats.
    public var antiEntropyMaxInterval: Int64 { heartbeat * 50 }
    /// As `Topology.redeliveryGrace`: 10 heartbeats.
    public var redeliveryGrace: Int64 { heartbeat * 10 }
    public var holdTimeout: Int64 = 1_500_000
    public var callTimeout: Int64 = 2_000_000
    /// How long the frontend keeps retrying a buy whose outcome it does not know.
    public var buyDeadline: Int64 = 10_000_000

    public init() {}
}
