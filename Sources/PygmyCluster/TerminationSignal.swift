import Dispatch
import Foundation

/// Catches SIGINT and SIGTERM from the moment it is created; `wait()` returns once one has arrived.
public final class TerminationSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var arrived = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var sources: [any DispatchSourceSignal] = []

    /// Ignores SIGINT and SIGTERM's default action (exit) and starts watching for them.
    public init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            sources.append(source)
        }
    }

    private func fire() {
        lock.lock()
        arrived = true
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume()
    }

    /// Returns once SIGINT or SIGTERM has arrived (at once if one already has).
    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if arrived {
                lock.unlock()
                continuation.resume()
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

/// Keeps signal sources alive for the life of the process.
public enum SignalSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    /// Keeps `source` (and so its handler) alive until the process exits.
    public static func keep(_ source: any DispatchSourceSignal) { sources.append(source) }
}
