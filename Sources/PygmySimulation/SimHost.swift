import PygmyBookstore
import PygmyReplica

/// A simulated process on the network: it makes calls (with timeouts) and answers them, can crash
/// (losing everything but what its subclass keeps as durable), restart, hang without dying (events for
/// it wait until it resumes, like a process stopped with SIGSTOP) and has its own clock.
///
/// Everything a host does is guarded by its incarnation: after a crash, answers to its old calls, its
/// old timers and requests it had not answered are ignored, as if the process were gone.
class SimHost {
    let name: String
    unowned let world: SimWorld
    private(set) var alive = true
    private(set) var hung = false
    private(set) var incarnation = 0
    /// The clock this host's code is given: offset (µs) and rate error (parts per million).
    var clockOffset: Int64 = 0
    var clockDrift: Int64 = 0
    private var deferred: [() -> Void] = []

    private struct Outbound {
        var peer: String
        var generation: UInt64
        var done: (CallResult) -> Void
    }
    private struct Inbound {
        var caller: String
        var call: UInt64
        var generation: UInt64
        var callerLife: Int
    }
    private var outstanding: [UInt64: Outbound] = [:]
    private var nextCall: UInt64 = 1
    private var inbound: [InboundID: Inbound] = [:]
    private var nextInbound: UInt64 = 1

    init(name: String, world: SimWorld) {
        self.name = name
        self.world = world
    }

    /// The world's time, in µs.
    var now: Int64 { world.now }

    /// The time this host's code sees now.
    var time: ReplicaTime {
        let local = world.now + world.now * clockDrift / 1_000_000
        return ReplicaTime(monotonic: .microseconds(local), wallMicros: local + clockOffset)
    }

    /// Real (world) microseconds for a local `duration`.
    func realDelay(_ duration: Duration) -> Int64 {
        max(0, duration.microseconds * 1_000_000 / (1_000_000 + clockDrift))
    }

    // MARK: Life cycle

    /// Starts the host's volatile life: at the start and after every restart.
    func boot() {}

    func crash() {
        guard alive else { return }
        world.log("\(name) CRASH")
        alive = false
        hung = false
        incarnation += 1
        outstanding.removeAll()
        inbound.removeAll()
        deferred.removeAll()
        for peer in world.hosts.keys.sorted() where peer != name {
            world.reset(peer, name, "\(name) crashed")
            world.reset(name, peer, "\(name) crashed")
        }
        lostVolatileState()
    }

    func restart() {
        guard !alive else { return }
        alive = true
        world.log("\(name) restart")
        boot()
    }

    func hang() {
        guard alive, !hung else { return }
        world.log("\(name) HANGS")
        hung = true
    }

    func resume() {
        guard alive, hung else { return }
        world.log("\(name) resumes (\(deferred.count) events waited)")
        hung = false
        let waiting = deferred
        deferred = []
        for event in waiting where alive && !hung { event() }
    }

    /// Drops whatever a real process keeps only in memory.
    func lostVolatileState() {}

    /// Runs `body` now, or when the host resumes if it is hung; never after a crash.
    private func whenRunning(_ life: Int, _ body: @escaping () -> Void) {
        guard alive, incarnation == life else { return }
        if hung {
            deferred.append { [unowned self] in if alive && incarnation == life { body() } }
        } else {
            body()
        }
    }

    /// Runs `body` after `delay` (world µs), unless the host crashed in the meantime.
    func after(_ delay: Int64, _ body: @escaping () -> Void) {
        let life = incarnation
        world.after(delay) { [unowned self] in whenRunning(life, body) }
    }

    // MARK: Calls

    /// Calls `peer`; `done` gets exactly one result, unless this host crashes first.
    func send(_ peer: String, _ request: PeerRequest, timeout: Int64, _ done: @escaping (CallResult) -> Void) {
        let id = nextCall
        nextCall += 1
        let generation = world.generation(name, peer)
        outstanding[id] = Outbound(peer: peer, generation: generation, done: done)
        let life = incarnation
        let target = world.host(peer)
        world.transmit(from: name, to: peer, connection: SimLink(from: name, to: peer)) { [unowned self] in
            target.receive(request, from: name, call: id, generation: generation, callerLife: life)
        }
        after(timeout) { [unowned self] in
            complete(id, life, .failed(.unreachable("no answer within \(timeout / 1000) ms")))
        }
    }

    private func complete(_ id: UInt64, _ life: Int, _ result: CallResult) {
        whenRunning(life) { [unowned self] in
            guard let call = outstanding.removeValue(forKey: id) else { return }
            call.done(result)
        }
    }

    /// At the callee: a request arrives on the caller's connection.
    private func receive(_ request: PeerRequest, from caller: String, call: UInt64, generation: UInt64, callerLife: Int)
    {
        guard world.generation(caller, name) == generation else { return }  // the connection is gone
        let callerHost = world.host(caller)
        guard alive else {
            // Nothing listening: the caller learns it after a round trip.
            world.transmit(from: name, to: caller, lossless: true) { [name] in
                callerHost.complete(call, callerLife, .failed(.refused("\(name) refused the connection")))
            }
            return
        }
        whenRunning(incarnation) { [unowned self] in
            guard world.generation(caller, name) == generation else { return }
            let id = InboundID(nextInbound)
            nextInbound += 1
            inbound[id] = Inbound(caller: caller, call: call, generation: generation, callerLife: callerLife)
            serve(id, request, connection: world.connectionID(caller, name, generation))
        }
    }

    /// Answers an inbound request (on the connection it came on, if that still exists).
    func respond(_ id: InboundID, _ result: Result<PeerResponse, BookstoreError>) {
        guard let entry = inbound.removeValue(forKey: id) else { return }
        guard world.generation(entry.caller, name) == entry.generation else { return }
        let callerHost = world.host(entry.caller)
        let reply: CallResult
        switch result {
        case .success(let response): reply = .answered(response, connection: entry.generation)
        case .failure(let error): reply = .failed(.error(error))
        }
        let generation = entry.generation
        world.transmit(from: name, to: entry.caller, connection: SimLink(from: entry.caller, to: name)) { [name] in
            guard callerHost.world.generation(entry.caller, name) == generation else { return }
            callerHost.complete(entry.call, entry.callerLife, reply)
        }
    }

    /// The connection to `peer` of `generation` ended: its calls in flight fail as lost.
    func connectionEnded(to peer: String, generation: UInt64, _ why: String) {
        let lost = outstanding.filter { $0.value.peer == peer && $0.value.generation == generation }.keys.sorted()
        let life = incarnation
        for id in lost {
            world.after(world.random.micros(50...500)) { [unowned self] in
                complete(id, life, .failed(.lost(why)))
            }
        }
    }

    /// A connection a peer had to this host closed.
    func closed(_ connection: ConnectionID) {
        let life = incarnation
        world.after(world.random.micros(50...500)) { [unowned self] in
            whenRunning(life) { [unowned self] in connectionClosed(connection) }
        }
    }

    // MARK: Overridden by the node shells

    /// Handles one request; answer it with `respond`.
    func serve(_ id: InboundID, _ request: PeerRequest, connection: ConnectionID) {
        respond(id, .failure(BookstoreError(.invalidValue, "\(name) does not serve \(request.name)")))
    }

    func connectionClosed(_ connection: ConnectionID) {}

    func pushed(_ invalidation: Invalidation) {}

    /// Sends a push on `connection` (which a peer opened to this host).
    func push(_ connection: ConnectionID, _ invalidation: Invalidation) {
        guard let (link, generation) = world.connection(connection),
            world.generation(link.from, link.to) == generation
        else { return }
        if world.isBlocked(name, link.from) {
            // Data on a cut connection never arrives; the connection's keepalive ends it.
            world.reset(link.from, link.to, "keepalive timeout")
            return
        }
        let subscriber = world.host(link.from)
        world.transmit(from: name, to: link.from, lossless: true) { [unowned self] in
            guard world.generation(link.from, link.to) == generation else { return }
            subscriber.after(0) { subscriber.pushed(invalidation) }
        }
    }
}
