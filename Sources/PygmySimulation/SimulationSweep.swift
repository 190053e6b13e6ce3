/// Runs many seeds, spread over the machine's cores, and returns the failing reports.
public enum SimulationSweep {
    public static func run(
        seeds: Range<UInt64>,
        options: Simulation.Options = .sweep,
        workers: Int = 2,
        progress: (@Sendable (Simulation.Report) -> Void)? = nil
    ) async -> [Simulation.Report] {
        await withTaskGroup(of: [Simulation.Report].self) { group in
            for worker in 0..<UInt64(max(1, workers)) {
                group.addTask {
                    var failures: [Simulation.Report] = []
                    var seed = seeds.lowerBound + worker
                    while seed < seeds.upperBound {
                        var report = Simulation(seed: seed, options: options).run()
                        if !report.passed && options.traceLimit == 0 {
                            // Runs are deterministic: run a failing seed again to keep its trace.
                            var traced = options
                            traced.traceLimit = 2_000
                            report = Simulation(seed: seed, options: traced).run()
                        }
                        progress?(report)
                        if !report.passed { failures.append(report) }
                        seed += UInt64(max(1, workers))
                    }
                    return failures
                }
            }
            var all: [Simulation.Report] = []
            for await failures in group { all += failures }
            return all.sorted { $0.seed < $1.seed }
        }
    }
}
