extension Duration {
    /// The duration in seconds, as a `Double` (for printing and rates).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    /// The duration in milliseconds, as a `Double`.
    public var milliseconds: Double { seconds * 1000 }
    /// The duration in microseconds, as a `Double`.
    var micros: Double { Double(components.seconds) * 1e6 + Double(components.attoseconds) / 1e12 }
}
