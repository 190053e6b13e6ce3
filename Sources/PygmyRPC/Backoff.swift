/// Exponential backoff with jitter for reconnect attempts. Pure: the caller supplies the randomness, so
/// tests can pin it.
public struct Backoff: Sendable, Hashable {
    /// Delay after the first failure.
    public var initial: Duration = .milliseconds(50)
    /// Upper bound on the delay.
    public var maximum: Duration = .seconds(5)
    /// Growth per consecutive failure.
    public var multiplier: Double = 2
    /// Fraction of the delay that is randomised: 0.2 spreads each delay over ±20%.
    public var jitter: Double = 0.2

    public init() {}

    /// The delay before attempt `failures + 1`, given `failures` consecutive failures (1 or more).
    public func delay(afterFailures failures: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let exponent = Double(max(0, failures - 1))
        let base = min(seconds(maximum), seconds(initial) * pow(multiplier, exponent))
        let spread = base * jitter
        let jittered = spread > 0 ? base + Double.random(in: -spread...spread, using: &random) : base
        return .nanoseconds(Int64(max(0, jittered) * 1e9))
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var i = 0.0
        while i < exponent && result < 1e12 {
            result *= base
            i += 1
        }
        return result
    }
}
