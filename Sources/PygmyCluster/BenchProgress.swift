import Foundation
import Synchronization

/// The progress line on stderr: the stage, requests done (of the total, if known) and the elapsed time.
/// On a terminal it is redrawn in place five times a second; otherwise each stage gets one line.
final class BenchProgress: Sendable {
    private struct State {
        var stage = ""
        var index = 0
        var stages = 0
        var total: Int?
        var stageStart = ContinuousClock.now
    }

    private let state = Mutex(State())
    private let done = Atomic<Int>(0)
    private let started = ContinuousClock.now
    private let interactive = isatty(2) == 1
    private let stopped = BenchFlag()
    let quiet: Bool

    init(stages: Int, quiet: Bool = false) {
        self.quiet = quiet
        state.withLock { $0.stages = stages }
    }

    func tick() { done.add(1, ordering: .relaxed) }

    /// Starts stage `name`; `total` requests if known.
    func stage(_ name: String, total: Int? = nil) {
        let line = state.withLock { s -> String in
            s.index += 1
            s.stage = name
            s.total = total
            s.stageStart = .now
            return "[\(s.index)/\(s.stages)] \(name)"
        }
        done.store(0, ordering: .relaxed)
        guard !quiet else { return }
        if interactive {
            draw()
        } else {
            let elapsed = String(format: "%5.1fs", (ContinuousClock.now - started).seconds)
            write("\(elapsed) \(line)\n")
        }
    }

    /// A line of its own (kept on screen).
    func note(_ text: String) {
        guard !quiet else { return }
        write((interactive ? "\r\u{1B}[K" : "") + text + "\n")
        if interactive { draw() }
    }

    /// Redraws the line until `finish()`.
    func start() -> Task<Void, Never> {
        Task.detached { [self] in
            while !stopped.isSet {
                if interactive && !quiet { draw() }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func finish() {
        stopped.set()
        if interactive && !quiet { write("\r\u{1B}[K") }
    }

    private func draw() {
        let (line, total, stageStart) = state.withLock { s in
            ("[\(s.index)/\(s.stages)] \(s.stage)", s.total, s.stageStart)
        }
        let n = done.load(ordering: .relaxed)
        var text = line
        if let total, total > 0 {
            let fraction = min(1, Double(n) / Double(total))
            let width = 20
            let filled = Int(fraction * Double(width))
            text += " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            text += " \(n)/\(total)"
        } else if n > 0 {
            text += " \(n) requests"
        }
        text += String(
            format: "  %.1fs (total %.0fs)",
            (ContinuousClock.now - stageStart).seconds,
            (ContinuousClock.now - started).seconds
        )
        write("\r\u{1B}[K" + text)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
