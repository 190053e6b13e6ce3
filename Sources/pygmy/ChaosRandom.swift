/// A small seeded random number generator (SplitMix64) for `pygmy chaos`: the same seed gives every
/// client and the fault loop the same sequence of choices (items, quantities, victims, pauses).
///
/// Timing still differs from run to run (processes, the scheduler), so a replay repeats the choices,
/// not the exact interleaving.
struct ChaosRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent stream for one actor of the run (a client, the fault loop…).
    static func stream(_ seed: UInt64, _ index: UInt64) -> ChaosRandom {
        var mixer = ChaosRandom(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        _ = mixer.next()
        return ChaosRandom(seed: mixer.next())
    }

    /// A uniformly distributed value in `range` (seconds, probabilities).
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound == range.upperBound ? range.lowerBound : Double.random(in: range, using: &self)
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &self) < p }
}
