import Synchronization

/// Idle coding contexts (the memory behind an `EncoderState` or a `DecoderStorage`), reused from one coding
/// run to the next.
///
/// Contexts are never freed: the pool keeps every context ever made (at most the number of runs that were
/// under way at once), which is what keeps every pointer to one valid, even in an encoder or container kept
/// past its run. Each context is used by one run at a time: the pool hands it out whole.
///
/// One slot is taken and given back with a single atomic exchange, so a thread coding values one after the
/// other never takes a lock; contexts beyond that slot wait in a locked list.
final class ContextPool<Context>: Sendable {
    /// The address of an idle context, or 0.
    private let slot = Atomic<UInt>(0)
    private let overflow = Mutex<[UInt]>([])
    private let make: @Sendable () -> UnsafeMutablePointer<Context>

    init(make: @escaping @Sendable () -> UnsafeMutablePointer<Context>) {
        self.make = make
    }

    /// An idle context, or a new one.
    @inline(__always)
    func take() -> UnsafeMutablePointer<Context> {
        let address = slot.exchange(0, ordering: .acquiring)
        if address != 0 { return UnsafeMutablePointer(bitPattern: address)! }
        return takeSlowly()
    }

    @inline(never)
    private func takeSlowly() -> UnsafeMutablePointer<Context> {
        if let address = overflow.withLock({ $0.popLast() }) { return UnsafeMutablePointer(bitPattern: address)! }
        return make()
    }

    /// Returns a context that its run is done with.
    @inline(__always)
    func give(_ context: UnsafeMutablePointer<Context>) {
        let address = UInt(bitPattern: context)
        if slot.compareExchange(expected: 0, desired: address, ordering: .releasing).exchanged { return }
        overflow.withLock { $0.append(address) }
    }
}
