import PygmyBookstore

/// What the network and the fault injector do in one run; drawn from the seed.
public struct SimFaults: Sendable, CustomStringConvertible {
    /// One-way message delay, in microseconds.
    public var delay: ClosedRange<Int64> = 50...2_000
    /// Chance that a message takes a long detour (reordering it behind later ones).
    public var slowChance = 0.02
    public var slowDelay: ClosedRange<Int64> = 20_000...400_000
    public var dropChance = 0.0
    public var duplicateChance = 0.0
    /// Crash a replica every so often while the clients run.
    public var crashes = true
    public var crashGap: ClosedRange<Int64> = 200_000...1_500_000
    public var downtime: ClosedRange<Int64> = 50_000...3_000_000
    /// Let both replicas of one kind be down at once.
    public var allowDoubleFaults = false
    /// Also crash the frontend now and then.
    public var crashFrontend = true

    public init() {}

    /// Faults drawn from `random`: every seed gets its own mix.
    public static func random(_ random: inout SimRandom) -> SimFaults {
        var faults = SimFaults()
        faults.delay = 20...random.micros(200...5_000)
        faults.slowChance = random.chance(0.5) ? 0 : Double(random.int(1...50)) / 1000
        faults.dropChance = random.chance(0.3) ? 0 : Double(random.int(1...40)) / 1000
        faults.duplicateChance = random.chance(0.5) ? 0 : Double(random.int(1...30)) / 1000
        faults.crashes = !random.chance(0.1)
        faults.crashGap = 100_000...random.micros(300_000...2_000_000)
        faults.downtime = 10_000...random.micros(100_000...3_000_000)
        faults.allowDoubleFaults = random.chance(0.15)
        faults.crashFrontend = random.chance(0.3)
        return faults
    }

    public var description: String {
        "delay \(delay.lowerBound)...\(delay.upperBound) µs, slow \(slowChance), drop \(dropChance), "
            + "duplicate \(duplicateChance), crashes \(crashes) every \(crashGap.upperBound / 1000) ms max, "
            + "down ≤ \(downtime.upperBound / 1000) ms, double faults \(allowDoubleFaults), "
            + "frontend crashes \(crashFrontend)"
    }
}

/// The simulated world: one clock, one agenda, one random generator, and the network between nodes.
/// Single-threaded and deterministic: the same seed gives the same run, event for event.
final class SimWorld {
    private(set) var now: Int64 = 0
    var random: SimRandom
    var faults: SimFaults
    private var queue = EventQueue()
    private(set) var nodes: [String: SimNode] = [:]
    private(set) var events = 0
    /// The last lines of the trace, printed with a failure.
    private(set) var trace: [String] = []
    let traceLimit: Int

    init(random: SimRandom, faults: SimFaults, traceLimit: Int = 400) {
        self.random = random
        self.faults = faults
        self.traceLimit = traceLimit
    }

    func add(_ node: SimNode) { nodes[node.name] = node }

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

    // MARK: Network

    private func delay() -> Int64 {
        random.chance(faults.slowChance) ? random.micros(faults.slowDelay) : random.micros(faults.delay)
    }

    /// Carries `deliver` to `to` after a random delay; it may be lost or arrive twice. `lossless`
    /// messages (pushes, which travel on a TCP connection that breaks rather than loses data) are
    /// only delayed.
    func transmit(to: String, lossless: Bool = false, _ deliver: @escaping () -> Void) {
        if !lossless && random.chance(faults.dropChance) { return }
        after(delay(), deliver)
        if !lossless && random.chance(faults.duplicateChance) { after(delay(), deliver) }
    }

    func node(_ name: String) -> SimNode { nodes[name]! }
}
