/// What the network, the clocks, the disks and the fault injector do in one run; drawn from the seed
/// (swarm testing: each seed gets its own mix, so rare combinations come up across a sweep).
public struct SimFaults: Sendable, CustomStringConvertible {
    /// One-way message delay, in microseconds.
    public var delay: ClosedRange<Int64> = 50...2_000
    /// Chance that a message takes a long detour (reordering it behind later ones).
    public var slowChance = 0.02
    public var slowDelay: ClosedRange<Int64> = 20_000...400_000
    /// Chance that a request or answer is lost, or arrives twice.
    public var dropChance = 0.0
    public var duplicateChance = 0.0
    /// How often the injector strikes while the clients run, and how long a fault lasts.
    public var gap: ClosedRange<Int64> = 200_000...1_500_000
    public var downtime: ClosedRange<Int64> = 50_000...3_000_000
    /// Crash a replica (and restart it after `downtime`).
    public var crashes = true
    /// Let two servers be faulty at once (both replicas of a kind, say).
    public var allowDoubleFaults = false
    /// Also crash or isolate the frontend now and then.
    public var crashFrontend = true
    /// Cut links between live nodes (silently dropping what crosses them) and heal them later:
    /// one node isolated, a split into two sides, a single link, or one direction only.
    public var partitions = false
    /// Reset the connection between two live nodes (calls in flight on it fail as lost).
    public var resets = false
    /// Stop a node without killing it (like SIGSTOP) and resume it later.
    public var hangs = false
    /// Per-node clock offset (µs) and rate error, for the times the cores are given.
    public var clockOffset: ClosedRange<Int64> = 0...0
    public var clockDrift: ClosedRange<Int64> = 0...0
    /// Chance that one persist fails (the node crash-restarts; nothing it acknowledged is lost).
    public var storageFailureChance = 0.0

    public init() {}

    /// No injected faults, only short delays: the base of a named scenario, whose faults are scripted.
    public static var scripted: SimFaults {
        var faults = SimFaults()
        faults.delay = 50...2_000
        faults.slowChance = 0
        faults.crashes = false
        return faults
    }

    /// Faults drawn from `random`: every seed gets its own mix.
    public static func random(_ random: inout SimRandom) -> SimFaults {
        var faults = SimFaults()
        faults.delay = 20...random.micros(200...5_000)
        faults.slowChance = random.chance(0.5) ? 0 : Double(random.int(1...50)) / 1000
        faults.dropChance = random.chance(0.3) ? 0 : Double(random.int(1...40)) / 1000
        faults.duplicateChance = random.chance(0.5) ? 0 : Double(random.int(1...30)) / 1000
        faults.crashes = !random.chance(0.1)
        faults.gap = 100_000...random.micros(300_000...2_000_000)
        faults.downtime = 10_000...random.micros(100_000...3_000_000)
        faults.allowDoubleFaults = random.chance(0.15)
        faults.crashFrontend = random.chance(0.3)
        faults.partitions = random.chance(0.5)
        faults.resets = random.chance(0.5)
        faults.hangs = random.chance(0.4)
        if random.chance(0.5) {
            faults.clockOffset = -random.micros(0...5_000_000)...random.micros(0...5_000_000)
            faults.clockDrift = -random.micros(0...2_000)...random.micros(0...2_000)
        }
        faults.storageFailureChance = random.chance(0.7) ? 0 : Double(random.int(1...20)) / 10_000
        return faults
    }

    /// The kinds of fault the injector may pick.
    var kinds: [SimFaultKind] {
        var kinds: [SimFaultKind] = []
        if crashes { kinds.append(.crash) }
        if partitions { kinds += [.partition, .partition] }
        if resets { kinds.append(.reset) }
        if hangs { kinds.append(.hang) }
        return kinds
    }

    public var description: String {
        "delay \(delay.lowerBound)...\(delay.upperBound) µs, slow \(slowChance), drop \(dropChance), "
            + "duplicate \(duplicateChance), faults every \(gap.upperBound / 1000) ms max, "
            + "lasting ≤ \(downtime.upperBound / 1000) ms: crashes \(crashes), partitions \(partitions), "
            + "resets \(resets), hangs \(hangs), double faults \(allowDoubleFaults), frontend \(crashFrontend), "
            + "clock offset \(clockOffset) µs drift \(clockDrift) ppm, storage failures \(storageFailureChance)"
    }
}

enum SimFaultKind: Sendable {
    case crash, partition, reset, hang
}
