import ArgumentParser
import Foundation
import PygmySimulation
import Synchronization

/// `pygmy sim`: the deterministic simulation, for long soaks and for replaying one seed.
struct Sim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the deterministic simulation of the whole store over many seeds (see docs/DESIGN.md).",
        discussion: """
            Each seed is one reproducible run of the node cores the real nodes run: crashes, restarts,
            connection resets, partitions, hung nodes, clock offsets, storage failures, delays, reordering,
            lost and duplicated messages, concurrent clients, then a check of every invariant. Exits 1 if
            any seed fails. Replay one failing seed with --seed N --trace.
            """
    )

    @Option(name: .long, help: "How many seeds to run.")
    var seeds = 2000

    @Option(name: .long, help: "The first seed.")
    var first: UInt64 = 1

    @Option(name: .long, help: "Run only this seed (overrides --seeds and --first).")
    var seed: UInt64?

    @Flag(name: .long, help: "Print the event trace of failing seeds (of the seed, with --seed).")
    var trace = false

    @Option(name: .long, help: "Catalog replicas.")
    var catalogs = 2

    @Option(name: .long, help: "Order replicas.")
    var orders = 2

    @Option(name: .long, help: "Parallel workers (default: the number of cores).")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard seeds > 0, workers > 0, catalogs > 0, orders > 0 else {
            throw ValidationError("--seeds, --workers, --catalogs and --orders must be positive")
        }
    }

    func run() async throws {
        var options = Simulation.Options.sweep
        options.catalogs = catalogs
        options.orders = orders
        if let seed {
            options.traceLimit = trace ? 20_000 : 0
            let report = Simulation(seed: seed, options: options).run()
            if trace { print(report.trace.joined(separator: "\n")) }
            print(report.summary)
            for violation in report.violations { print("  \(violation)") }
            if !report.passed { throw ExitCode(1) }
            return
        }
        let started = ContinuousClock.now
        let counter = SimProgress(total: seeds)
        let failures = await SimulationSweep.run(
            seeds: first..<(first + UInt64(seeds)),
            options: options,
            workers: workers
        ) { report in counter.tick(report) }
        let seconds = (ContinuousClock.now - started).components.seconds
        print("\(seeds) seeds in \(seconds) s: \(seeds - failures.count) passed, \(failures.count) failed")
        for report in failures {
            print(report.summary)
            for violation in report.violations { print("  \(violation)") }
            if trace { print(report.trace.joined(separator: "\n")) }
            print("  replay: pygmy sim --seed \(report.seed) --trace")
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

/// Prints a line every 5% of the seeds.
final class SimProgress: Sendable {
    private let total: Int
    private let state = Mutex<(done: Int, failed: Int, events: Int)>((0, 0, 0))

    init(total: Int) { self.total = total }

    func tick(_ report: Simulation.Report) {
        let (done, failed, events) = state.withLock {
            $0.done += 1
            $0.failed += report.passed ? 0 : 1
            $0.events += report.events
            return $0
        }
        if done % max(1, total / 20) == 0 || !report.passed {
            print(
                "  \(done)/\(total) seeds, \(failed) failed, \(events) events\(report.passed ? "" : " (seed \(report.seed) FAILED)")"
            )
        }
    }
}
