/// The one seeded pseudo-random generator (SplitMix64) of Pygmy: the simulator's only source of
/// randomness, the chaos runner's clients and fault loop, the bench's clients and the tests' mutators.
/// The same seed gives the same sequence, so a run (or its choices, where timing is real) can be replayed.
///
/// Not cryptographic. Fast: `SystemRandomNumberGenerator` makes a system call per number on Linux.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent stream number `index` of one run seeded with `seed` (one per client, one for the
    /// fault loop…), so adding an actor does not change the others' choices.
    public static func stream(_ seed: UInt64, _ index: UInt64) -> SeededRandom {
        var mixer = SeededRandom(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        _ = mixer.next()
        return SeededRandom(seed: mixer.next())
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &self) < p }

    /// A uniformly distributed value in `range` (seconds, probabilities); the bound itself if the range is
    /// one value.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound == range.upperBound ? range.lowerBound : Double.random(in: range, using: &self)
    }

    /// A uniformly distributed integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A uniformly chosen element of `items`, which must not be empty.
    public mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}
