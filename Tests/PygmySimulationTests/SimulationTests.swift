import Foundation
import PygmyBookstore
import Testing

@testable import PygmySimulation

/// Runs the whole store in the deterministic simulator over many seeds and checks every invariant.
///
/// - `PYGMY_SIM_SEED=<n>`: replay one seed (prints its trace).
/// - `PYGMY_SIM_SEEDS=<n>`: how many seeds the sweep runs (default below); `PYGMY_SIM_FIRST=<n>` where
///   it starts.
@Suite("Deterministic simulation")
struct SimulationTests {
    static let defaultSeeds = 2_000

    /// Seeds that once failed, each with the bug it found. They run on every test run, but since the fault
    /// model grew they draw other faults; `ScenarioTests` scripts the conditions each bug needed.
    static let regressionSeeds: [UInt64] = [
        63,  // oversold: a retried hold recorded unchecked while joining was vouched for
        68,  // a replica became ready without a ready peer while an order replica was down
        122,  // a refused buy became an order through a late attempt at the other order replica
        237,  // a retry answered from the log before the commit reached the catalogs (stale read)
        695,  // faults that never stopped kept the clients from finishing (now they stop after 300 s)
        106_388,  // a buy of an old epoch acknowledged with commits at its old members only, while a replica
        // re-admitted in a newer epoch served reads without it (commits now carry the epoch)
        509_441,  // one request id became two orders under partitions and a hang: a retried hold kept its old
        // instance, so a stale-hold release the coordinator answered during an earlier attempt removed the
        // hold the next attempt relied on (a retried hold is now a new instance; releases name the instance)
        1_185,  // with folding: a buy still running at order-1 bought a request id order-2 had ordered and the
        // catalogs had folded (a coordinator now checks its log before it decides)
        3_580,  // folding never agreed again after a hang: two catalogs that proposed different horizons
        // took each other's every round (a proposal now only falls, ours included, until it is folded)
        1_839,  // with order replicas evicting folded orders: an attempt still running at order-1 missed the
        // order order-2 had made of its request id (evicted), and decided it again (a running buy's
        // outcome now stays in memory)
        3_000_531,  // a duplicated release of one attempt removed the next attempt's hold; its coordinator then
        // down, another order replica bought the same request id again (releases now name their attempt)
        3_003_031,  // a late attempt's hold for a folded commit was never released: the commit it was asked
        // about changed nothing (a folded commit now releases such a hold)
        3_009_953,  // with restocks folded, a late snapshot brought back a restock folded under its earlier stamp
        // (a snapshot's restocks memory lacks are now looked up in the store)
        13_793,  // a rejoining catalog replica recorded a refusal while the member that had committed the id for
        // another coordinator was down: "out of stock" for a bought id (a replica records refusals only when
        // ready)
        19_036,  // oversold in the same schedule family (it passes since the fix above; not root-caused alone)
        5_453,  // skipping store lookups for refusals at or after the digest mark let a later stamp of an evicted
        // refusal in as new: the in-memory digest drifted from the log's (refusals are always looked up)
        11_521,  // the same
    ]

    @Test("a run replays exactly from its seed")
    func deterministic() {
        let a = Simulation(seed: 42).run()
        let b = Simulation(seed: 42).run()
        #expect(a.events == b.events)
        #expect(a.simulatedMicros == b.simulatedMicros)
        #expect(a.acknowledged == b.acknowledged && a.rejected == b.rejected && a.unknown == b.unknown)
        #expect(a.events > 1_000, "the run did almost nothing: \(a.summary)")
    }

    @Test("runs buy, crash and recover (the workload is not vacuous)")
    func workloadIsReal() {
        var acknowledged = 0
        var crashes = 0
        var rejected = 0
        for seed in UInt64(1)...20 {
            let report = Simulation(seed: seed).run()
            acknowledged += report.acknowledged
            crashes += report.crashes
            rejected += report.rejected
        }
        #expect(acknowledged > 200)
        #expect(crashes > 20)
        #expect(rejected > 0)
    }

    @Test("regression seeds")
    func regressions() {
        for seed in Self.regressionSeeds {
            let report = Simulation(seed: seed).run()
            #expect(report.passed, "\(report.summary)\n\(report.violations.joined(separator: "\n"))")
        }
    }

    @Test("3 catalog and 3 order replicas: every invariant holds")
    func threeAndThree() async {
        var options = Simulation.Options.sweep
        options.catalogs = 3
        options.orders = 3
        let failures = await SimulationSweep.run(seeds: 1..<201, options: options)
        #expect(failures.isEmpty, "\(failures.map(\.summary).prefix(3).joined(separator: "\n"))")
    }

    @Test("seed sweep: every invariant holds")
    func sweep() async {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["PYGMY_SIM_SEED"], let seed = UInt64(text) {
            var options = Simulation.Options()
            options.traceLimit = 5_000
            let report = Simulation(seed: seed, options: options).run()
            print(report.summary)
            print(report.trace.joined(separator: "\n"))
            #expect(report.passed, "\(report.violations.joined(separator: "\n"))")
            return
        }
        let count = UInt64(environment["PYGMY_SIM_SEEDS"].flatMap(Int.init) ?? Self.defaultSeeds)
        let first = UInt64(environment["PYGMY_SIM_FIRST"].flatMap(Int.init) ?? 1)
        let failures = await SimulationSweep.run(seeds: first..<(first + count))
        for report in failures.prefix(3) {
            Issue.record(
                """
                \(report.summary)
                \(report.violations.joined(separator: "\n"))
                replay: PYGMY_SIM_SEED=\(report.seed) swift test --filter 'Deterministic simulation'
                """
            )
        }
        let failed = failures.map(\.seed)
        #expect(failed.isEmpty, "\(failed.count) of \(count) seeds failed: \(failed.prefix(20))")
    }
}
