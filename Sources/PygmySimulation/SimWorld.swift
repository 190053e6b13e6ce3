import PygmyReplica

/// A directed link between two simulated hosts: calls from `from` to `to` travel on it, and answers on
/// the reverse one.
struct SimLink: Hashable {
    var from: String
    var to: String
}

/// The simulated world: one clock, one agenda, one random generator, and the network between hosts.
/// Single-threaded and deterministic: the same seed gives the same run, event for event.
///
/// The network has one connection per caller and callee (as the nodes' RPC clients do), numbered by a
/// generation that changes when either end crashes or the connection is reset: what was in flight on an
/// old connection is lost. A cut link silently drops what is sent on it (like a firewall's drop rule).
final class SimWorld {
    private(set) var now: Int64 = 0
    var random: SimRandom
    var faults: SimFaults
    private var queue = EventQueue()
    private(set) var hosts: [String: SimHost] = [:]
    private(set) var events = 0
    /// The last lines of the trace, printed with a failure.
    private(set) var trace: [String] = []
    let traceLimit: Int
    /// Links that drop everything sent on them.
    private(set) var blocked: Set<SimLink> = []
    private var generations: [SimLink: UInt64] = [:]
    private var connections: [ConnectionID: (link: SimLink, generation: UInt64)] = [:]
    private var connectionNumbers: [SimLink: [UInt64: ConnectionID]] = [:]
    private var nextConnection: UInt64 = 1

    init(random: SimRandom, faults: SimFaults, traceLimit: Int = 400) {
        self.random = random
        self.faults = faults
        self.traceLimit = traceLimit
    }

    func add(_ host: SimHost) { hosts[host.name] = host }
    func host(_ name: String) -> SimHost { hosts[name]! }

    func at(_ time: Int64, _ run: @escaping () -> Void) { queue.push(at: max(time, now), run) }
    func after(_ delay: Int64, _ run: @escaping () -> Void) { at(now + delay, run) }

    func log(_ line: @autoclosure () -> String) {
        guard traceLimit > 0 else { return }
        trace.append("\(now / 1000).\(String(now % 1000 + 1000).dropFirst()) ms  \(line())")
        if trace.count > traceLimit * 2 { trace.removeFirst(trace.count - traceLimit) }
    }

    /// Runs events until `time`, until the agenda is empty or until `stopWhen` holds, calling `check`
    /// after each event.
    func run(until time: Int64, check: () -> Void, stopWhen: () -> Bool) {
        while !stopWhen(), let next = queue.firstTime, next <= time {
            let entry = queue.pop()!
            now = entry.time
            events += 1
            entry.run()
            check()
        }
        if !stopWhen() { now = max(now, time) }
    }

    // MARK: Links and connections

    func isBlocked(_ from: String, _ to: String) -> Bool { blocked.contains(SimLink(from: from, to: to)) }

    func block(_ from: String, _ to: String) { blocked.insert(SimLink(from: from, to: to)) }
    func unblock(_ from: String, _ to: String) { blocked.remove(SimLink(from: from, to: to)) }

    /// The generation of the connection from `caller` to `callee`.
    func generation(_ caller: String, _ callee: String) -> UInt64 {
        generations[SimLink(from: caller, to: callee), default: 1]
    }

    /// The id the callee sees for that connection.
    func connectionID(_ caller: String, _ callee: String, _ generation: UInt64) -> ConnectionID {
        let link = SimLink(from: caller, to: callee)
        if let id = connectionNumbers[link]?[generation] { return id }
        let id = ConnectionID(nextConnection)
        nextConnection += 1
        connectionNumbers[link, default: [:]][generation] = id
        connections[id] = (link, generation)
        return id
    }

    func connection(_ id: ConnectionID) -> (link: SimLink, generation: UInt64)? { connections[id] }

    /// Ends the connection from `caller` to `callee`: calls in flight on it fail as lost at the caller,
    /// and the callee learns it closed (its push subscriptions on it end).
    func reset(_ caller: String, _ callee: String, _ why: String) {
        let link = SimLink(from: caller, to: callee)
        let old = generation(caller, callee)
        generations[link] = old + 1
        host(caller).connectionEnded(to: callee, generation: old, why)
        let id = connectionID(caller, callee, old)
        host(callee).closed(id)
        connectionNumbers[link]?[old] = nil
    }

    // MARK: Messages

    private func delay() -> Int64 {
        random.chance(faults.slowChance) ? random.micros(faults.slowDelay) : random.micros(faults.delay)
    }

    /// Carries `deliver` from `from` to `to` after a random delay, unless the link is cut; it may be lost
    /// or arrive twice. `lossless` messages (a refusal, a push on a live connection) are only delayed.
    /// A message lost on a `connection` breaks it (TCP does not lose data silently: the connection
    /// resets, and both ends learn it); one lost without a connection just vanishes.
    func transmit(
        from: String,
        to: String,
        lossless: Bool = false,
        connection: SimLink? = nil,
        _ deliver: @escaping () -> Void
    ) {
        if isBlocked(from, to) { return }
        if !lossless && random.chance(faults.dropChance) {
            if let connection {
                let generation = generation(connection.from, connection.to)
                after(delay()) { [unowned self] in
                    guard self.generation(connection.from, connection.to) == generation else { return }
                    log("LOST message \(from)→\(to): connection \(connection.from)→\(connection.to) reset")
                    reset(connection.from, connection.to, "connection reset")
                }
            }
            return
        }
        after(delay(), deliver)
        if !lossless && random.chance(faults.duplicateChance) { after(delay(), deliver) }
    }
}
