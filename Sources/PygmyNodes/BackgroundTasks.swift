import Synchronization

/// The background tasks of a node, cancelled together on shutdown.
final class BackgroundTasks: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func spawn(_ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        tasks.withLock { $0.append(task) }
    }

    /// Runs `body` every `interval` until cancelled.
    func every(_ interval: Duration, _ body: @escaping @Sendable () async -> Void) {
        spawn {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                await body()
            }
        }
    }

    func cancelAll() {
        let all = tasks.withLock { t in
            defer { t.removeAll() }
            return t
        }
        for task in all { task.cancel() }
    }
}
