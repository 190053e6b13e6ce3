import PygmyBookstore

/// The simulation's generator: the shared `SeededRandom`, the only source of randomness in a simulation,
/// so one seed replays one run exactly.
public typealias SimRandom = SeededRandom

extension SeededRandom {
    /// A uniformly distributed number of microseconds in `range`.
    public mutating func micros(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &self) }
}
