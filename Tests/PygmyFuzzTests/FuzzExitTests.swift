import Testing

/// The suites with exit tests (`#expect(processExitsWith:)`), run one test at a time even under a parallel
/// `swift test`. While an exit test's child process runs, Swift Testing reads the child's back channel with
/// a blocking read on a thread of the cooperative pool — two exit tests at once hold both threads of a
/// two-core machine, and every other test of the run waits until a child exits.
@Suite(.serialized, .timeLimit(.minutes(5)))
enum FuzzExitTests {}
